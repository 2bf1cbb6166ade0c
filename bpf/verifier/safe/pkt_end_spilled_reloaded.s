# prog-type: xdp
# why: data_end spilled and reloaded still bounds the packet
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
stxdw [%r10-16], %r3
ldxdw %r6, [%r10-16]
mov %r4, %r2
add %r4, 8
jgt %r4, %r6, out
ldxdw %r0, [%r2]
out:
exit
