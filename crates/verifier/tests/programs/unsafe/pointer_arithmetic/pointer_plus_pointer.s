# prog-type: xdp
# expect: pointer_arithmetic
# why: two pointers added
mov %r2, %r10
add %r2, %r1
mov %r0, 0
exit
