# prog-type: xdp
# why: xdp_md.data (offset 0) is readable with a 4-byte load
ldxw %r0, [%r1+0]
mov %r0, 2
exit
