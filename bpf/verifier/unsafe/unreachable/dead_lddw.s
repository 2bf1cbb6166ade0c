# prog-type: xdp
# expect: unreachable
# why: an lddw after exit
mov %r0, 0
exit
lddw %r1, 1
exit
