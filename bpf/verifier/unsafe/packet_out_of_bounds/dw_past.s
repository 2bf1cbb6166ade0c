# prog-type: xdp
# expect: packet_out_of_bounds
# why: 8 bytes proven, an 8-byte load at offset 1 needs 9
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 8
jgt %r4, %r3, out
ldxdw %r0, [%r2+1]
out:
exit
