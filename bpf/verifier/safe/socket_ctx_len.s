# prog-type: socket_filter
# why: socket filters read __sk_buff.len
ldxw %r0, [%r1]
exit
