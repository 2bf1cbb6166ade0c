# prog-type: xdp
# expect: jump_into_lddw
# why: jsle back onto the second slot
mov %r0, 0
lddw %r3, 7
jsle %r0, 0, -2
exit
