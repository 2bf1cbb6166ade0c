# prog-type: socket_filter
# expect: ctx_access
# why: socket filters may not read __sk_buff.data
ldxw %r0, [%r1+76]
exit
