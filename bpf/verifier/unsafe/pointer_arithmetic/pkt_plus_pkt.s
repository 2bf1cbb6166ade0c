# prog-type: xdp
# expect: pointer_arithmetic
# why: pointer + pointer (packet + packet)
ldxw %r2, [%r1]
ldxw %r3, [%r1]
add %r2, %r3
mov %r0, 0
exit
