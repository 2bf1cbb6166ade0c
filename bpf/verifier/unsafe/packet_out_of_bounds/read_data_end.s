# prog-type: xdp
# expect: packet_out_of_bounds
# why: data_end itself cannot be dereferenced
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
ldxb %r0, [%r3]
exit
