# prog-type: socket_filter
# expect: pointer_leak
# profile: strict
# why: the frame pointer is returned
mov %r0, %r10
exit
