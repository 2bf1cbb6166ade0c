# prog-type: sched_cls
# why: __sk_buff.vlan_tci (offset 24) is readable by tc
ldxw %r0, [%r1+24]
exit
