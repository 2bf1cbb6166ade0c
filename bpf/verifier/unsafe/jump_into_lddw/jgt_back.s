# prog-type: xdp
# expect: jump_into_lddw
# why: jgt back onto the second slot
mov %r0, 0
lddw %r1, 2
jgt %r0, 5, -2
exit
