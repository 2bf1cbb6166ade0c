# prog-type: xdp
# expect: unreachable
# why: a block skipped by ja
mov %r0, 0
ja +3
add %r0, 1
add %r0, 2
add %r0, 3
exit
