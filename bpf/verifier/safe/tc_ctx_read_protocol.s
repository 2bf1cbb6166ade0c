# prog-type: sched_cls
# why: __sk_buff.protocol (offset 16) is readable by tc
ldxw %r0, [%r1+16]
exit
