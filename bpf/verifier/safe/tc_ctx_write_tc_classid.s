# prog-type: sched_cls
# why: __sk_buff.tc_classid (offset 72) is writable by tc
stw [%r1+72], 1
mov %r0, 0
exit
