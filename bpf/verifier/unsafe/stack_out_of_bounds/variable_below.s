# prog-type: xdp
# expect: stack_out_of_bounds
# why: a variable offset r10-1024..r10-1 reaches below the frame
call 7
and %r0, 1023
mov %r2, %r10
add %r2, -1024
add %r2, %r0
stb [%r2], 0
mov %r0, 0
exit
