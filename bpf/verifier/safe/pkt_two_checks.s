# prog-type: xdp
# why: a second, longer check extends the proven range
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r2+13]
mov %r4, %r2
add %r4, 34
jgt %r4, %r3, out
ldxw %r0, [%r2+30]
out:
exit
