# prog-type: xdp
# expect: pointer_arithmetic
# why: a stack pointer shifted left
mov %r2, %r10
lsh %r2, 1
mov %r0, 0
exit
