# Byte-wise checksum over a 256-byte buffer on the stack: fill it from an
# LCG, then a Fletcher-style sum over every byte, 8 passes.
mov %r1, 0
mov %r2, 0x9e3779b9
fill:
mul32 %r2, 1664525
add32 %r2, 1013904223
mov %r3, %r10
add %r3, -256
add %r3, %r1
stxb [%r3], %r2
add %r1, 1
jlt %r1, 256, fill
mov %r0, 0
mov %r5, 0
mov %r6, 0
pass:
mov %r1, 0
sum:
mov %r3, %r10
add %r3, -256
add %r3, %r1
ldxb %r4, [%r3]
add %r0, %r4
add %r5, %r0
add %r1, 1
jlt %r1, 256, sum
add %r6, 1
jlt %r6, 8, pass
lsh %r5, 16
xor %r0, %r5
exit
