# prog-type: xdp
# expect: packet_out_of_bounds
# why: the read is on the branch where the packet is shorter than 14 bytes
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jle %r4, %r3, out
ldxb %r0, [%r2]
out:
exit
