# prog-type: xdp
# expect: stack_out_of_bounds
# why: 4 bytes of a spilled pointer are read back
stxdw [%r10-8], %r1
ldxw %r0, [%r10-8]
exit
