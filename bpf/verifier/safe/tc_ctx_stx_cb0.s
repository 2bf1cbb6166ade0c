# prog-type: sched_cls
# why: __sk_buff.cb0 (offset 48) written from a register
mov %r2, 7
stxw [%r1+48], %r2
mov %r0, 0
exit
