# prog-type: xdp
# expect: stack_out_of_bounds
# why: atomic add at r10+0
mov %r2, 1
lock add [%r10], %r2
mov %r0, 0
exit
