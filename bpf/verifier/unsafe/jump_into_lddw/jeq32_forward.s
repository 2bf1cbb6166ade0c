# prog-type: xdp
# expect: jump_into_lddw
# why: 32-bit jump onto the second slot
mov %r0, 0
jeq32 %r0, 0, +1
lddw %r1, 2
exit
