# prog-type: xdp
# expect: jump_out_of_range
# why: ja -3 from instruction 1 lands at -1
mov %r0, 0
ja -3
exit
