# prog-type: sched_cls
# expect: ctx_access
# why: __sk_buff.data cannot be written
mov %r2, 0
stxw [%r1+76], %r2
mov %r0, 0
exit
