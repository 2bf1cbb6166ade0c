# prog-type: xdp
# expect: jump_out_of_range
# why: ja +1 from the next-to-last instruction lands one past the end
mov %r0, 0
ja +1
exit
