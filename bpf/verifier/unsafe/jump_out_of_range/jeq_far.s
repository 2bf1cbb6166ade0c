# prog-type: xdp
# expect: jump_out_of_range
# why: a conditional jump 100 past the end
mov %r0, 0
jeq %r0, 0, +100
exit
