# prog-type: xdp
# expect: packet_out_of_bounds
# why: data + 14 < data_end proves 15 bytes; a 2-byte load at 14 needs 16
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jge %r4, %r3, out
ldxh %r0, [%r2+14]
out:
exit
