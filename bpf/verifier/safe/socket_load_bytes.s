# prog-type: socket_filter
# why: socket filters may call bpf_skb_load_bytes
mov %r2, 0
mov %r3, %r10
add %r3, -8
mov %r4, 8
call 26
mov %r0, 0
exit
