# prog-type: sched_cls
# why: bpf_skb_store_bytes is an skb helper, allowed for tc
stw [%r10-4], 0
mov %r2, 0
mov %r3, %r10
add %r3, -4
mov %r4, 4
mov %r5, 0
call 9
mov %r0, 0
exit
