# prog-type: xdp
# expect: stack_out_of_bounds
# why: store at r10-520
stdw [%r10-520], 0
mov %r0, 0
exit
