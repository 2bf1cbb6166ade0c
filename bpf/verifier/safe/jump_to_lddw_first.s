# prog-type: xdp
# why: a jump onto the first slot of an lddw
mov %r0, 0
jeq %r0, 1, +0
ja +0
lddw %r0, 2
exit
