# prog-type: xdp
# why: 2 bytes at r10-2
sth [%r10-2], 1
ldxh %r0, [%r10-2]
exit
