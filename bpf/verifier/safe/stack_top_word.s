# prog-type: xdp
# why: 4 bytes at r10-4
stw [%r10-4], 1
ldxw %r0, [%r10-4]
exit
