# prog-type: xdp
# expect: stack_out_of_bounds
# why: 8-byte store at r10-4 reaches past r10
stdw [%r10-4], 0
mov %r0, 0
exit
