# prog-type: xdp
# expect: jump_out_of_range
# why: the last instruction is not exit or ja: the taken branch runs off the end
mov %r0, 0
jeq %r0, 1, +1
exit
mov %r0, 1
