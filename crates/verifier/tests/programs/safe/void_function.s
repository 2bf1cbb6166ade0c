# prog-type: xdp
# why: a void function leaves r0 unset; the caller does not read it
call local f
mov %r0, 0
exit
f:
exit
