# prog-type: sched_cls
# why: __sk_buff.tc_index (offset 44) is writable by tc
stw [%r1+44], 1
mov %r0, 0
exit
