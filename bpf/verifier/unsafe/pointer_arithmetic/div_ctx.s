# prog-type: xdp
# expect: pointer_arithmetic
# why: a context pointer divided
div %r1, 2
mov %r0, 0
exit
