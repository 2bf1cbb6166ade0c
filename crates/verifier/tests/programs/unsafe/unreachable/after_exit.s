# prog-type: xdp
# expect: unreachable
# why: code after the last exit is never reached
mov %r0, 0
exit
mov %r0, 1
exit
