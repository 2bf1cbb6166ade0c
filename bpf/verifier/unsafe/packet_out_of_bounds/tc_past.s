# prog-type: sched_cls
# expect: packet_out_of_bounds
# why: tc: 14 bytes proven, bytes 20..24 read
ldxw %r2, [%r1+76]
ldxw %r3, [%r1+80]
mov %r0, 0
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxw %r0, [%r2+20]
out:
exit
