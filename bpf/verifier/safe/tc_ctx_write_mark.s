# prog-type: sched_cls
# why: __sk_buff.mark (offset 8) is writable by tc, also with BPF_ST (allowed into the context since Linux 6.3)
stw [%r1+8], 1
mov %r0, 0
exit
