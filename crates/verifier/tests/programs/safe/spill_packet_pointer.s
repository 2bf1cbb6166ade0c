# prog-type: xdp
# why: a packet pointer spilled to the stack keeps its proven range
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, +4
stxdw [%r10-8], %r2
ldxdw %r5, [%r10-8]
ldxb %r0, [%r5+13]
exit
mov %r0, 0
exit
