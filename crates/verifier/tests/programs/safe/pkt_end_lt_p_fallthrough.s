# prog-type: xdp
# why: data_end < data+14 not taken: 14 bytes
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jlt %r3, %r4, +2
ldxb %r0, [%r2+13]
exit
mov %r0, 1
exit
