# prog-type: xdp
# expect: stack_out_of_bounds
# why: a stack pointer moved 600 bytes down
mov %r2, %r10
add %r2, -600
stb [%r2], 0
mov %r0, 0
exit
