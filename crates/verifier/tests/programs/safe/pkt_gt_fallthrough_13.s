# prog-type: xdp
# why: data+14 > data_end not taken proves 14 bytes; byte 13 is the last
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, +2
ldxb %r0, [%r2+13]
exit
mov %r0, 1
exit
