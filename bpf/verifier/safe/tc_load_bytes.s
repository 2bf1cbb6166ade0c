# prog-type: sched_cls
# why: bpf_skb_load_bytes into a 4-byte stack buffer
mov %r2, 0
mov %r3, %r10
add %r3, -4
mov %r4, 4
call 26
ldxw %r0, [%r10-4]
exit
