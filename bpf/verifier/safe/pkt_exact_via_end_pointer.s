# prog-type: xdp
# why: r4 = data + 14 proven <= data_end; the byte at r4 - 1 is inside
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r4-1]
out:
exit
