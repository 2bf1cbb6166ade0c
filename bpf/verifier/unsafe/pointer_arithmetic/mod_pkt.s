# prog-type: xdp
# expect: pointer_arithmetic
# why: modulo on a packet pointer
ldxw %r2, [%r1]
mod %r2, 3
mov %r0, 0
exit
