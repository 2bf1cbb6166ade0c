# prog-type: xdp
# expect: pointer_arithmetic
# why: the kernel forbids subtracting from a stack pointer, even a constant (add a negative constant instead)
mov %r2, %r10
sub %r2, 16
stdw [%r2], 0
ldxdw %r0, [%r2]
exit
