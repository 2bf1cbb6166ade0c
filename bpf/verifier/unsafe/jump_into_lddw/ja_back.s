# prog-type: xdp
# expect: jump_into_lddw
# why: ja back into the second slot of lddw
lddw %r0, 1
ja -2
exit
