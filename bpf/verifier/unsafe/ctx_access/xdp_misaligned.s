# prog-type: xdp
# expect: ctx_access
# why: a 4-byte load at offset 2 straddles two fields
ldxw %r0, [%r1+2]
exit
