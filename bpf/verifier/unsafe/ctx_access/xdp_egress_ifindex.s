# prog-type: xdp
# expect: ctx_access
# why: xdp_md.egress_ifindex is readable only by devmap XDP programs (expected attach type BPF_XDP_DEVMAP)
ldxw %r0, [%r1+20]
exit
