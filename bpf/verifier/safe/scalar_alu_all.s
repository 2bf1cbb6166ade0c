# prog-type: xdp
# why: arithmetic on scalars of every kind
mov %r0, 7
mul %r0, 3
div %r0, 2
mod %r0, 5
lsh %r0, 3
rsh %r0, 1
arsh %r0, 1
xor %r0, 5
or %r0, 8
and %r0, 15
neg %r0
exit
