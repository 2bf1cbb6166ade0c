# prog-type: xdp
# expect: stack_out_of_bounds
# why: load at r10+0, above the frame
ldxw %r0, [%r10]
exit
