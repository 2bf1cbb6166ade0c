# prog-type: xdp
# why: a spilled stack pointer survives a helper call
mov %r2, %r10
add %r2, -16
stxdw [%r10-8], %r2
stdw [%r10-16], 5
call 7
ldxdw %r3, [%r10-8]
ldxdw %r0, [%r3]
exit
