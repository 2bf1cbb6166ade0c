# prog-type: xdp
# expect: jump_out_of_range
# why: jset two past the end
mov %r0, 0
jset %r0, 1, +2
exit
