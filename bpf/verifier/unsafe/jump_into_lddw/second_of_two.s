# prog-type: xdp
# expect: jump_into_lddw
# why: into the second slot of the second lddw
mov %r0, 0
jeq %r0, 1, +1
ja +3
lddw %r1, 2
lddw %r2, 3
exit
