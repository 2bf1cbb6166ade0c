# prog-type: xdp
# why: the context passed to a callee
call local f
exit
f:
ldxw %r0, [%r1+12]
exit
