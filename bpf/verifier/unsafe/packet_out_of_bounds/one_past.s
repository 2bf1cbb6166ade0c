# prog-type: xdp
# expect: packet_out_of_bounds
# why: 14 bytes proven, byte 14 read
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r2+14]
out:
exit
