# prog-type: sched_cls
# why: legacy indirect packet loads are allowed for tc (r6 = ctx)
mov %r6, %r1
mov %r2, 1
ldindh %r2, 0
exit
