# prog-type: sched_cls
# why: __sk_buff.cb0 (offset 48) is writable by tc, also with BPF_ST (allowed into the context since Linux 6.3)
stw [%r1+48], 1
mov %r0, 0
exit
