# prog-type: xdp
# expect: stack_out_of_bounds
# why: 2-byte store at r10-513 starts below the frame
sth [%r10-513], 0
mov %r0, 0
exit
