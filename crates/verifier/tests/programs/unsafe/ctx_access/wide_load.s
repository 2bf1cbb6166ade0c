# prog-type: xdp
# expect: ctx_access
# why: 8-byte load of xdp_md.data
ldxdw %r0, [%r1+0]
exit
