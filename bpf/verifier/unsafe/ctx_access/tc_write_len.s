# prog-type: sched_cls
# expect: ctx_access
# why: __sk_buff.len is read-only
stw [%r1], 0
mov %r0, 0
exit
