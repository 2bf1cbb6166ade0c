# prog-type: sched_cls
# why: __sk_buff.vlan_present (offset 20) is readable by tc
ldxw %r0, [%r1+20]
exit
