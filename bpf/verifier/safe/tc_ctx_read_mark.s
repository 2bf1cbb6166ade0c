# prog-type: sched_cls
# why: __sk_buff.mark (offset 8) is readable by tc
ldxw %r0, [%r1+8]
exit
