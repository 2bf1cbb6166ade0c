# prog-type: xdp
# why: stack read at a variable offset bounded to [-16, -9]
call 7
and %r0, 7
mov %r1, %r10
add %r1, -16
add %r1, %r0
ldxb %r0, [%r1+0]
exit
