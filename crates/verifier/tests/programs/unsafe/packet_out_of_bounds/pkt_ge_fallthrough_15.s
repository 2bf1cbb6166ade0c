# prog-type: xdp
# expect: packet_out_of_bounds
# why: 15 bytes proven, byte 15 read
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jge %r4, %r3, +2
ldxb %r0, [%r2+15]
exit
mov %r0, 1
exit
