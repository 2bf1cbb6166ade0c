# prog-type: xdp
# expect: jump_into_lddw
# why: a jump lands on the second half of lddw
lddw %r0, 1
ja -2
exit
