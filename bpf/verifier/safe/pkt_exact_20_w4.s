# prog-type: xdp
# why: 20 bytes proven; a 4-byte load at offset 16 ends exactly at the proven end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 20
jgt %r4, %r3, out
ldxw %r0, [%r2+16]
out:
exit
