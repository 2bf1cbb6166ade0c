# prog-type: sched_cls
# why: a 1-byte load of __sk_buff.mark (narrow loads are allowed)
ldxb %r0, [%r1+8]
exit
