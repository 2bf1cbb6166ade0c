# prog-type: xdp
# expect: pointer_arithmetic
# why: a stack pointer multiplied
mov %r2, %r10
mul %r2, 2
mov %r0, 0
exit
