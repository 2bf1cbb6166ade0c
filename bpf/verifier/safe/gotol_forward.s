# prog-type: xdp
# why: gotol to a valid instruction
mov %r0, 0
jeq %r0, 1, +1
gotol +1
mov %r0, 1
exit
