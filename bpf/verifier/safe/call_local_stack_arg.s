# prog-type: xdp
# why: a pointer to the caller stack passed to a callee
stdw [%r10-8], 7
mov %r1, %r10
add %r1, -8
call local f
exit
f:
ldxdw %r0, [%r1]
exit
