# prog-type: sched_cls
# why: __sk_buff.len (offset 0) is readable by tc
ldxw %r0, [%r1+0]
exit
