# prog-type: xdp
# why: 14 bytes proven; a byte store at offset 13
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
stb [%r2+13], 0
out:
exit
