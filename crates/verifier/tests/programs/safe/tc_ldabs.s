# prog-type: sched_cls
# why: ld_abs with the context in r6
mov %r6, %r1
ldabsh 12
exit
