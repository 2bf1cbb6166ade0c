# prog-type: xdp
# why: xdp_md.data_meta (offset 8) is readable with a 4-byte load
ldxw %r0, [%r1+8]
mov %r0, 2
exit
