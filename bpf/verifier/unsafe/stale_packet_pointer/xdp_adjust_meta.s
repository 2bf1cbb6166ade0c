# prog-type: xdp
# expect: stale_packet_pointer
# why: bpf_xdp_adjust_meta may move the packet; r7 (data) is used after it
mov %r6, %r1
ldxw %r7, [%r6]
ldxw %r3, [%r6+4]
mov %r0, 1
mov %r4, %r7
add %r4, 14
jgt %r4, %r3, out
mov %r1, %r6
mov %r2, 0
call 54
ldxb %r0, [%r7]
out:
exit
