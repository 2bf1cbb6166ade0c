# prog-type: socket_filter
# why: socket filters may write cb[]
stw [%r1+52], 1
mov %r0, 0
exit
