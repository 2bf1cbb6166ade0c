# prog-type: xdp
# expect: pointer_arithmetic
# why: or on the context pointer
or %r1, 1
mov %r0, 0
exit
