# prog-type: xdp
# why: data_meta+4 <= data proves 4 metadata bytes
ldxw %r2, [%r1+8]
ldxw %r3, [%r1+0]
mov %r4, %r2
add %r4, 4
jgt %r4, %r3, +2
ldxw %r0, [%r2+0]
exit
mov %r0, 1
exit
