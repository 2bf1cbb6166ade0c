# prog-type: sched_cls
# expect: ctx_access
# why: stores to mark must be 4 bytes
mov %r2, 5
stxh [%r1+8], %r2
mov %r0, 0
exit
