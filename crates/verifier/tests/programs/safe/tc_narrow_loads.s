# prog-type: sched_cls
# why: narrow loads of scalar __sk_buff fields
ldxb %r0, [%r1+0]
ldxh %r2, [%r1+10]
exit
