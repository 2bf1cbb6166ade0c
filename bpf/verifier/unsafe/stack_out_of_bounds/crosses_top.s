# prog-type: xdp
# expect: stack_out_of_bounds
# why: 8-byte load at r10-4 reaches past r10
stw [%r10-4], 0
ldxdw %r0, [%r10-4]
exit
