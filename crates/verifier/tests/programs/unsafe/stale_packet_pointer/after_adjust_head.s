# prog-type: xdp
# expect: stale_packet_pointer
# why: a packet pointer checked before xdp_adjust_head is used after it
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r6, %r1
mov %r7, %r2
add %r7, 14
jgt %r7, %r3, +5
mov %r1, %r6
mov %r2, 4
call 44
ldxb %r0, [%r7+0]
exit
mov %r0, 1
exit
