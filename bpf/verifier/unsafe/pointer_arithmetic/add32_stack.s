# prog-type: xdp
# expect: pointer_arithmetic
# why: 32-bit arithmetic on a stack pointer
mov %r2, %r10
add32 %r2, -8
mov %r0, 0
exit
