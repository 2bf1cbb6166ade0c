# prog-type: xdp
# expect: jump_into_lddw
# why: jset onto the second slot
mov %r0, 0
jset %r0, 0, +1
lddw %r1, 2
exit
