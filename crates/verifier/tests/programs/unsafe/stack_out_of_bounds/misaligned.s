# prog-type: xdp
# expect: stack_out_of_bounds
# why: 4-byte store at r10-6
stw [%r10-6], 0
mov %r0, 0
exit
