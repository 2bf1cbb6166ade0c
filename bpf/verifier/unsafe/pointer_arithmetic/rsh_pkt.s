# prog-type: xdp
# expect: pointer_arithmetic
# why: a packet pointer shifted right
ldxw %r2, [%r1]
rsh %r2, 1
mov %r0, 0
exit
