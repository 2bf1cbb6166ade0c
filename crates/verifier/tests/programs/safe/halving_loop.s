# prog-type: xdp
# why: a loop that halves an unknown value terminates; explored until it is 0
call 7
mov %r1, %r0
rsh %r1, 1
jne %r1, 0, -2
mov %r0, 0
exit
