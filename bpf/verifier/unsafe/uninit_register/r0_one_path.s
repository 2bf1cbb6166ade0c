# prog-type: xdp
# expect: uninit_register
# why: r0 is written only on the fall-through path; when ingress_ifindex is 0 the taken jump reaches exit with r0 unset
ldxw %r2, [%r1+12]
jeq %r2, 0, +1
mov %r0, 0
exit
