# prog-type: xdp
# expect: malformed
# why: 32-bit division by the immediate 0
mov %r0, 1
div32 %r0, 0
exit
