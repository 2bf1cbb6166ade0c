# prog-type: xdp
# why: division by a register (a zero divisor gives 0 at run time)
ldxw %r2, [%r1+12]
mov %r0, 100
div %r0, %r2
exit
