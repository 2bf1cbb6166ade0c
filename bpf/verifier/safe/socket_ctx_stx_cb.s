# prog-type: socket_filter
# why: socket filters may write cb[] from a register
mov %r2, 1
stxw [%r1+56], %r2
mov %r0, 0
exit
