# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: the slot is written only when r0 != 0
call 7
jeq %r0, 0, +1
stdw [%r10-8], 1
ldxdw %r0, [%r10-8]
exit
