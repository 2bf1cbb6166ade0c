# prog-type: xdp
# expect: ctx_access
# why: 1-byte load of ingress_ifindex
ldxb %r0, [%r1+13]
exit
