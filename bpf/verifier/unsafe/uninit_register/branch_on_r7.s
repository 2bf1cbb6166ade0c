# prog-type: xdp
# expect: uninit_register
# why: the jump compares r7, never written
mov %r0, 0
jeq %r7, 0, +1
mov %r0, 1
exit
