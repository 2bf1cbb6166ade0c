# prog-type: xdp
# why: data_end < data + 14 jumps away
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jlt %r3, %r4, out
ldxb %r0, [%r2+13]
out:
exit
