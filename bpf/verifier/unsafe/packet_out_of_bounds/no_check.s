# prog-type: xdp
# expect: packet_out_of_bounds
# why: a packet byte read without any comparison with data_end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
ldxb %r0, [%r2]
exit
