# prog-type: xdp
# expect: helper_not_allowed
# why: bpf_skb_store_bytes is for skb programs, not XDP
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 9
mov %r0, 0
exit
