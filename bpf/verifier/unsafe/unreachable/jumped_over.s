# prog-type: xdp
# expect: unreachable
# why: ja +1 skips an instruction nothing else reaches
ja +1
mov %r0, 1
mov %r0, 0
exit
