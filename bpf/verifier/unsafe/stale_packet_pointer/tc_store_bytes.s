# prog-type: sched_cls
# expect: stale_packet_pointer
# why: bpf_skb_store_bytes may move the packet; r7 (data) is used after it
mov %r6, %r1
ldxw %r7, [%r6+76]
ldxw %r3, [%r6+80]
mov %r0, 0
mov %r4, %r7
add %r4, 14
jgt %r4, %r3, out
stw [%r10-4], 0
mov %r1, %r6
mov %r2, 0
mov %r3, %r10
add %r3, -4
mov %r4, 4
mov %r5, 0
call 9
ldxb %r0, [%r7]
out:
exit
