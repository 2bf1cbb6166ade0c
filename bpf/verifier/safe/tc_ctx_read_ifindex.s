# prog-type: sched_cls
# why: __sk_buff.ifindex (offset 40) is readable by tc
ldxw %r0, [%r1+40]
exit
