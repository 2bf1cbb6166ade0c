# Division-heavy loop: 64-bit unsigned division and modulo by a changing
# divisor, 5,000 iterations.
mov %r0, 0
mov %r1, 1
lddw %r3, 0x123456789abcdef
loop:
mov %r2, %r3
div %r2, %r1
add %r0, %r2
mov %r4, %r3
mod %r4, %r1
xor %r0, %r4
mov32 %r5, %r3
div32 %r5, %r1
add %r0, %r5
add %r1, 13
jlt %r1, 65000, loop
exit
