# prog-type: sched_cls
# why: __sk_buff.ingress_ifindex (offset 36) is readable by tc
ldxw %r0, [%r1+36]
exit
