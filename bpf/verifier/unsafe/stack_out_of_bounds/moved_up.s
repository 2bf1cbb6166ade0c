# prog-type: xdp
# expect: stack_out_of_bounds
# why: a stack pointer moved above the frame
mov %r2, %r10
add %r2, 8
ldxb %r0, [%r2]
exit
