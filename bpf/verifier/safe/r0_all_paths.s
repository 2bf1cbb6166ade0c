# prog-type: xdp
# why: r0 is written on both paths
ldxw %r2, [%r1+12]
mov %r0, 1
jeq %r2, 0, +1
mov %r0, 2
exit
