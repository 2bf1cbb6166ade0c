# prog-type: xdp
# expect: malformed
# why: an arithmetic shift by 100
mov %r0, 1
arsh %r0, 100
exit
