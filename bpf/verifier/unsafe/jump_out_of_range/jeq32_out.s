# prog-type: xdp
# expect: jump_out_of_range
# why: a 32-bit conditional jump out of the program
mov %r0, 0
jeq32 %r0, 0, +7
exit
