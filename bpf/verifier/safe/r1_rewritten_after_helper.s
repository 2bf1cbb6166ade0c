# prog-type: xdp
# why: r1 is written again after the call before it is read
mov %r6, %r1
call 7
mov %r1, %r6
ldxw %r0, [%r1+12]
exit
