# prog-type: xdp
# expect: ctx_access
# why: xdp_md.data is a 4-byte field; an 8-byte load is the wrong size
ldxdw %r0, [%r1]
exit
