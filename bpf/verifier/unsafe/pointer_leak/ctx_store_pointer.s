# prog-type: sched_cls
# expect: pointer_leak
# profile: strict
# why: the context pointer stored into __sk_buff.mark
stxw [%r1+8], %r1
mov %r0, 0
exit
