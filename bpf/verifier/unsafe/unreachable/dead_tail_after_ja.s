# prog-type: xdp
# expect: unreachable
# why: code after exit only reachable from itself
mov %r0, 0
ja +2
exit
mov %r0, 3
ja -3
