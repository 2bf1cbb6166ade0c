# prog-type: xdp
# why: 1 bytes proven; a 1-byte load at offset 0 ends exactly at the proven end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 1
jgt %r4, %r3, out
ldxb %r0, [%r2+0]
out:
exit
