# prog-type: xdp
# expect: pointer_arithmetic
# why: 32-bit add on the context pointer
add32 %r1, 4
mov %r0, 0
exit
