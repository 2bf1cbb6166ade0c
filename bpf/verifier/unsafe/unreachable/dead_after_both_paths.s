# prog-type: xdp
# expect: unreachable
# why: the last two instructions follow exits on both paths
mov %r0, 0
jeq %r0, 0, +1
exit
exit
mov %r0, 7
exit
