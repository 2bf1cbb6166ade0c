# prog-type: xdp
# expect: jump_out_of_range
# why: a conditional jump before the start
mov %r0, 0
jne %r0, 1, -10
exit
