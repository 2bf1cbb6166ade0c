# prog-type: xdp
# why: xdp_md.ingress_ifindex (offset 12) is readable with a 4-byte load
ldxw %r0, [%r1+12]
exit
