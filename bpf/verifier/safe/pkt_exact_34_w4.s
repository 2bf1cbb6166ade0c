# prog-type: xdp
# why: 34 bytes proven; a 4-byte load at offset 30 ends exactly at the proven end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, out
ldxw %r0, [%r2+30]
out:
exit
