# prog-type: socket_filter
# expect: helper_not_allowed
# why: bpf_redirect is not available to socket filters
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 23
mov %r0, 0
exit
