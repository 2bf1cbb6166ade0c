# prog-type: xdp
# expect: stack_out_of_bounds
# why: store above the frame pointer
mov %r2, 1
stxb [%r10+8], %r2
mov %r0, 0
exit
