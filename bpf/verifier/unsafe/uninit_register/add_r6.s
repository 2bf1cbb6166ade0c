# prog-type: xdp
# expect: uninit_register
# why: r6 is never written
mov %r0, 0
add %r0, %r6
exit
