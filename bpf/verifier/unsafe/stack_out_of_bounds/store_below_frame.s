# prog-type: xdp
# expect: stack_out_of_bounds
# why: store 8 bytes below the 512-byte frame
stdw [%r10-520], 0
mov %r0, 0
exit
