# prog-type: xdp
# expect: packet_out_of_bounds
# why: 14 bytes proven, a 4-byte load at 12 needs 16
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxw %r0, [%r2+12]
out:
exit
