# prog-type: sched_cls
# expect: ctx_access
# why: len is read-only
mov %r2, 5
stxw [%r1+0], %r2
mov %r0, 0
exit
