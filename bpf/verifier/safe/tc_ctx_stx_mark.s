# prog-type: sched_cls
# why: __sk_buff.mark (offset 8) written from a register
mov %r2, 7
stxw [%r1+8], %r2
mov %r0, 0
exit
