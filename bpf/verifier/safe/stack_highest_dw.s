# prog-type: xdp
# why: the highest 8 bytes of the frame, r10-8
stdw [%r10-8], 1
ldxdw %r0, [%r10-8]
exit
