# prog-type: xdp
# expect: pointer_arithmetic
# why: a scalar minus a pointer
mov %r2, 100
sub %r2, %r10
mov %r0, 0
exit
