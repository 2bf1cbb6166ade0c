# prog-type: xdp
# expect: jump_into_lddw
# why: conditional jump onto the second slot
mov %r0, 0
jeq %r0, 0, +1
lddw %r1, 2
exit
