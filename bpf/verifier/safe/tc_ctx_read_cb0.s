# prog-type: sched_cls
# why: __sk_buff.cb0 (offset 48) is readable by tc
ldxw %r0, [%r1+48]
exit
