# prog-type: sched_cls
# why: __sk_buff.queue_mapping (offset 12) is readable by tc
ldxw %r0, [%r1+12]
exit
