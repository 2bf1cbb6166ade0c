# prog-type: sched_cls
# why: __sk_buff.tc_index (offset 44) is readable by tc
ldxw %r0, [%r1+44]
exit
