# prog-type: xdp
# expect: packet_out_of_bounds
# why: a store one byte past the proven 14
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
stb [%r2+14], 0
out:
exit
