# prog-type: xdp
# expect: jump_out_of_range
# why: no exit: execution runs off the end
mov %r0, 0
