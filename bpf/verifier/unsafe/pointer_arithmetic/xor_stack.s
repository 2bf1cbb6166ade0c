# prog-type: xdp
# expect: pointer_arithmetic
# why: xor on a stack pointer
mov %r2, %r10
xor %r2, 4
mov %r0, 0
exit
