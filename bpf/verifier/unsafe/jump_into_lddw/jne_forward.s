# prog-type: xdp
# expect: jump_into_lddw
# why: jne onto the second slot
mov %r0, 0
jne %r0, 1, +1
lddw %r1, 2
exit
