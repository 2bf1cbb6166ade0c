# prog-type: sched_cls
# expect: ctx_access
# why: __sk_buff has no field at offset 400
ldxw %r0, [%r1+400]
exit
