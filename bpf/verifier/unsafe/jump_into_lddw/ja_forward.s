# prog-type: xdp
# expect: jump_into_lddw
# why: ja forward onto the second slot of lddw
mov %r0, 0
jeq %r0, 1, +1
ja +1
lddw %r1, 2
exit
