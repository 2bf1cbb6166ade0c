# prog-type: xdp
# expect: helper_not_allowed
# why: bpf_l3_csum_replace is for skb programs
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 10
mov %r0, 0
exit
