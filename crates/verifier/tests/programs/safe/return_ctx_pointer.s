# prog-type: xdp
# why: a function may return the context pointer (static functions hand r0 back as it is)
call local f
ldxw %r0, [%r0+12]
exit
f:
mov %r0, %r1
exit
