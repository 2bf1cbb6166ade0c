# prog-type: xdp
# expect: jump_out_of_range
# why: jgt taken lands past the end
mov %r0, 0
mov %r2, 1
jgt %r2, %r0, +3
exit
