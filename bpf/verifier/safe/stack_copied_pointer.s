# prog-type: xdp
# why: a copy of r10 moved within the frame
mov %r2, %r10
add %r2, -16
stdw [%r2], 3
ldxdw %r0, [%r2]
exit
