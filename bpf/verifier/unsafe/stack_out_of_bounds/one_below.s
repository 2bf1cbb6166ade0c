# prog-type: xdp
# expect: stack_out_of_bounds
# why: store 1 byte at r10-513, just below the frame
stb [%r10-513], 0
mov %r0, 0
exit
