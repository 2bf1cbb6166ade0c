# prog-type: xdp
# expect: malformed
# why: a shift by a negative immediate
mov %r0, 1
lsh32 %r0, -1
exit
