# prog-type: sched_cls
# why: __sk_buff.pkt_type (offset 4) is readable by tc
ldxw %r0, [%r1+4]
exit
