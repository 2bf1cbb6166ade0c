# prog-type: xdp
# expect: ctx_access
# why: xdp_md has no field at offset 100
ldxw %r0, [%r1+100]
exit
