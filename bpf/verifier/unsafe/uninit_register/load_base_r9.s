# prog-type: xdp
# expect: uninit_register
# why: r9 used as a load base is never written
ldxw %r0, [%r9]
exit
