# prog-type: xdp
# why: data_end > data + 14 proves 15 bytes
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r3, %r4, ok
exit
ok:
ldxb %r0, [%r2+14]
exit
