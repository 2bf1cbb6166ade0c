# prog-type: xdp
# why: a loop writing 8 stack slots through a moving pointer
mov %r2, %r10
mov %r3, 0
l:
add %r2, -8
stdw [%r2], 0
add %r3, 1
jlt %r3, 8, l
ldxdw %r0, [%r10-64]
exit
