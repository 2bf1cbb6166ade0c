# prog-type: sched_cls
# why: mark and cb[0] are writable by tc programs
mov %r2, 5
stxw [%r1+8], %r2
stxw [%r1+48], %r2
mov %r0, 0
exit
