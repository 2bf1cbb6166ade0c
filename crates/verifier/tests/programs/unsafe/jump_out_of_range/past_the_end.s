# prog-type: xdp
# expect: jump_out_of_range
# why: ja +5 leaves the program
mov %r0, 0
ja +5
exit
