# prog-type: xdp
# expect: uninit_register
# why: neg reads r3, never written
neg %r3
mov %r0, 0
exit
