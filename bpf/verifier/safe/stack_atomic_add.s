# prog-type: xdp
# why: an atomic add on an initialised slot
stdw [%r10-8], 1
mov %r2, 2
lock add [%r10-8], %r2
ldxdw %r0, [%r10-8]
exit
