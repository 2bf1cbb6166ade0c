# prog-type: xdp
# expect: uninit_register
# why: the callee returns without writing r0 and the caller returns it
call local f
exit
f:
mov %r1, 0
exit
