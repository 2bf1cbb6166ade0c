# prog-type: sched_cls
# why: __sk_buff.tc_classid (offset 72) is readable by tc
ldxw %r0, [%r1+72]
exit
