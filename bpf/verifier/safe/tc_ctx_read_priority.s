# prog-type: sched_cls
# why: __sk_buff.priority (offset 32) is readable by tc
ldxw %r0, [%r1+32]
exit
