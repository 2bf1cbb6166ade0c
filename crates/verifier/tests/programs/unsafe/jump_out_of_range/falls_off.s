# prog-type: xdp
# expect: jump_out_of_range
# why: no exit at the end
mov %r0, 0
