# Branch-heavy: data-dependent branches on LCG bits, 2,000 iterations.
mov %r0, 0
mov %r1, 0
mov %r2, 1
loop:
mul %r2, 1103515245
add %r2, 12345
mov %r3, %r2
rsh %r3, 16
and %r3, 15
jeq %r3, 0, zero
jeq %r3, 1, one
jgt %r3, 11, big
jset %r3, 4, mid
add %r0, %r3
ja next
zero:
add %r0, 100
ja next
one:
xor %r0, %r2
ja next
big:
sub %r0, %r3
jsgt %r0, 0, next
add %r0, 1000
ja next
mid:
lsh %r0, 1
and %r0, 0xffffff
next:
add %r1, 1
jlt %r1, 2000, loop
exit
