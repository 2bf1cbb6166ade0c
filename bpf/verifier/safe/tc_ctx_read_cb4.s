# prog-type: sched_cls
# why: __sk_buff.cb4 (offset 64) is readable by tc
ldxw %r0, [%r1+64]
exit
