# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: a packet pointer compared with a stack pointer
ldxw %r2, [%r1]
mov %r0, 0
jgt %r2, %r10, +1
mov %r0, 1
exit
