# prog-type: sched_cls
# why: packet pointers are read again from the context after bpf_skb_vlan_pop
mov %r6, %r1
mov %r1, %r6
call 19
ldxw %r2, [%r6+76]
ldxw %r3, [%r6+80]
mov %r0, 0
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r2]
out:
exit
