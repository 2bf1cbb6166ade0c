# prog-type: xdp
# expect: packet_out_of_bounds
# why: data_end itself is read
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
ldxb %r0, [%r3+0]
exit
