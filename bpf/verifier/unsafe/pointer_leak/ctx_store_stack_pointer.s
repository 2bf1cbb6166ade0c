# prog-type: sched_cls
# expect: pointer_leak
# profile: strict
# why: a stack pointer stored into __sk_buff.cb[0]
mov %r2, %r10
stxw [%r1+48], %r2
mov %r0, 0
exit
