# prog-type: sched_cls
# why: __sk_buff.hash (offset 68) is readable by tc
ldxw %r0, [%r1+68]
exit
