# prog-type: xdp
# why: a stack pointer plus a constant
mov %r2, %r10
add %r2, -8
stdw [%r2], 0
mov %r0, 0
exit
