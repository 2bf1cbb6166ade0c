# prog-type: xdp
# why: xdp_md.data_end (offset 4) is readable with a 4-byte load
ldxw %r0, [%r1+4]
mov %r0, 2
exit
