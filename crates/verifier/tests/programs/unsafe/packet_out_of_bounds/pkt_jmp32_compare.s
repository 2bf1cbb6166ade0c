# prog-type: xdp
# expect: packet_out_of_bounds
# why: a 32-bit comparison with data_end proves nothing
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jgt32 %r4, %r3, +2
ldxb %r0, [%r2+13]
exit
mov %r0, 1
exit
