# prog-type: xdp
# expect: unreachable
# why: a loop after exit that no path enters
mov %r0, 0
exit
l:
mov %r0, 5
ja l
