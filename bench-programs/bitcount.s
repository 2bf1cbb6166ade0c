# Bit count: for 100 LCG values, add up their bits one shift at a time.
mov %r0, 0
mov %r6, 0
lddw %r2, 0x2545f4914f6cdd1d
lddw %r7, 6364136223846793005
lddw %r8, 1442695040888963407
outer:
mul %r2, %r7
add %r2, %r8
mov %r3, 0
inner:
mov %r4, %r2
rsh %r4, %r3
and %r4, 1
add %r0, %r4
add %r3, 1
jlt %r3, 64, inner
add %r6, 1
jlt %r6, 100, outer
exit
