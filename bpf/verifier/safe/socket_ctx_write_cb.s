# prog-type: socket_filter
# why: socket filters may write cb[] (BPF_ST into the context is allowed since Linux 6.3)
stw [%r1+52], 1
mov %r0, 0
exit
