# prog-type: xdp
# expect: null_deref
# why: a number is dereferenced
mov %r1, 0
ldxb %r0, [%r1+0]
exit
