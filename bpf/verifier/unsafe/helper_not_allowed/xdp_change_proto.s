# prog-type: xdp
# expect: helper_not_allowed
# why: bpf_skb_change_proto is for skb programs
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 31
mov %r0, 0
exit
