# prog-type: xdp
# expect: unreachable
# why: code after the callee exit
call local f
exit
f:
mov %r0, 0
exit
mov %r0, 1
exit
