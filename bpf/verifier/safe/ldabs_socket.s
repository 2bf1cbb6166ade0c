# prog-type: socket_filter
# why: legacy packet loads are allowed for socket filters (r6 = ctx)
mov %r6, %r1
ldabsb 0
exit
