# prog-type: xdp
# why: data + 14 >= data_end jumps away; the fall-through proves 15 bytes
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jge %r4, %r3, out
ldxb %r0, [%r2+14]
out:
exit
