# prog-type: xdp
# why: the context spilled and reloaded keeps its type
stxdw [%r10-8], %r1
ldxdw %r6, [%r10-8]
ldxw %r0, [%r6+12]
exit
