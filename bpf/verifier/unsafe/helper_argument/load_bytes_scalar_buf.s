# prog-type: sched_cls
# expect: helper_argument
# why: bpf_skb_load_bytes needs a buffer pointer, gets a scalar
mov %r2, 0
mov %r3, 0
mov %r4, 4
call 26
mov %r0, 0
exit
