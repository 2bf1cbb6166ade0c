# prog-type: xdp
# why: a bounded number stored with a 4-byte store and read back keeps its range, so it can offset a packet pointer
mov %r6, %r1
call 7
and %r0, 255
stxw [%r10-8], %r0
ldxw %r1, [%r10-8]
ldxw %r2, [%r6+0]
ldxw %r3, [%r6+4]
add %r2, %r1
mov %r4, %r2
add %r4, 1
jgt %r4, %r3, +2
ldxb %r0, [%r2+0]
exit
mov %r0, 0
exit
