# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: the callee reads its fresh frame
call local f
exit
f:
ldxdw %r0, [%r10-8]
exit
