# prog-type: xdp
# expect: packet_out_of_bounds
# why: r4 = data + 14 is proven <= data_end, so the byte at r4 is not proven
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r4]
out:
exit
