# prog-type: xdp
# why: data_meta + 4 <= data proves 4 metadata bytes
ldxw %r2, [%r1+8]
ldxw %r3, [%r1]
mov %r0, 0
mov %r4, %r2
add %r4, 4
jgt %r4, %r3, out
ldxw %r0, [%r2]
out:
exit
