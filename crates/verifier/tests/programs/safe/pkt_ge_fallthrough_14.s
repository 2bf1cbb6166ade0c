# prog-type: xdp
# why: data+14 >= data_end not taken means data+14 < data_end: 15 bytes, byte 14 is in
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jge %r4, %r3, +2
ldxb %r0, [%r2+14]
exit
mov %r0, 1
exit
