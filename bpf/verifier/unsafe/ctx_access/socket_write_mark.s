# prog-type: socket_filter
# expect: ctx_access
# why: socket filters may write only cb[], not mark
stw [%r1+8], 1
mov %r0, 0
exit
