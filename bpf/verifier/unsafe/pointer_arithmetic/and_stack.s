# prog-type: xdp
# expect: pointer_arithmetic
# why: a stack pointer masked with and
mov %r2, %r10
and %r2, -16
mov %r0, 0
exit
