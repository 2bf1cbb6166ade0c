# Tight arithmetic loop: a 64-bit LCG mixed into an accumulator,
# 10,000 iterations of 7 instructions.
mov %r0, 0
mov %r1, 0
mov %r2, 12345
loop:
mul %r2, 1103515245
add %r2, 12345
xor %r0, %r2
add %r0, %r1
add %r1, 1
jlt %r1, 10000, loop
exit
