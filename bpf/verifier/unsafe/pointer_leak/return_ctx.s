# prog-type: socket_filter
# expect: pointer_leak
# profile: strict
# why: the context pointer is returned
mov %r0, %r1
exit
