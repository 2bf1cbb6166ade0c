# prog-type: xdp
# why: the byte at r10-1
stb [%r10-1], 1
ldxb %r0, [%r10-1]
exit
