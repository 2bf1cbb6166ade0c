# prog-type: xdp
# expect: jump_into_lddw
# why: gotol onto the second slot
mov %r0, 0
jeq %r0, 1, +1
gotol +1
lddw %r1, 2
exit
