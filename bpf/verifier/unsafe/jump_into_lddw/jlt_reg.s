# prog-type: xdp
# expect: jump_into_lddw
# why: jlt (register) onto the second slot
mov %r0, 0
mov %r2, 1
jlt %r0, %r2, +1
lddw %r1, 2
exit
