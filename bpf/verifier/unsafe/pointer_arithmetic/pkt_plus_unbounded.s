# prog-type: xdp
# expect: pointer_arithmetic
# why: a packet pointer plus a 64-bit time value with no bound
mov %r6, %r1
call 5
ldxw %r2, [%r6]
add %r2, %r0
mov %r0, 0
exit
