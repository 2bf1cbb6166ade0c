# prog-type: xdp
# expect: ctx_access
# why: a load before the start of xdp_md
ldxw %r0, [%r1-4]
exit
