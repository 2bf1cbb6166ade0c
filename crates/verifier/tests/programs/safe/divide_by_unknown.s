# prog-type: xdp
# why: division by a register that may be zero is defined (result 0)
call 7
mov %r1, %r0
mov %r0, 10
div %r0, %r1
exit
