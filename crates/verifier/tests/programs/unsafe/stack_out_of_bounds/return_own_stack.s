# prog-type: xdp
# expect: stack_out_of_bounds
# why: a function returns a pointer into its own frame, which is gone after the return
call local f
mov %r0, 0
exit
f:
mov %r0, %r10
exit
