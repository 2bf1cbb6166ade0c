# prog-type: sched_cls
# why: __sk_buff.priority (offset 32) is writable by tc
stw [%r1+32], 1
mov %r0, 0
exit
