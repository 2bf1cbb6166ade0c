# prog-type: xdp
# why: data+14 < data_end taken: 15 bytes
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jlt %r4, %r3, +2
mov %r0, 1
exit
ldxb %r0, [%r2+14]
exit
