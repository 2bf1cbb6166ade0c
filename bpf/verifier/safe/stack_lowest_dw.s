# prog-type: xdp
# why: the lowest 8 bytes of the frame, r10-512
stdw [%r10-512], 1
ldxdw %r0, [%r10-512]
exit
