# prog-type: xdp
# expect: unreachable
# why: ja +2 skips two instructions
mov %r0, 0
ja +2
mov %r0, 1
mov %r0, 2
exit
