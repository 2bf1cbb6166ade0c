# prog-type: xdp
# why: xdp_md.rx_queue_index (offset 16) is readable with a 4-byte load
ldxw %r0, [%r1+16]
exit
