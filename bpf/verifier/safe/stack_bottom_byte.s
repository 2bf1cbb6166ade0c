# prog-type: xdp
# why: the byte at r10-512
stb [%r10-512], 1
ldxb %r0, [%r10-512]
exit
