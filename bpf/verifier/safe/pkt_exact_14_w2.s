# prog-type: xdp
# why: 14 bytes proven; a 2-byte load at offset 12 ends exactly at the proven end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxh %r0, [%r2+12]
out:
exit
