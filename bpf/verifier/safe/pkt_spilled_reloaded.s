# prog-type: xdp
# why: a checked packet pointer spilled to the stack and reloaded keeps its range
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
stxdw [%r10-8], %r2
ldxdw %r5, [%r10-8]
ldxb %r0, [%r5+13]
out:
exit
