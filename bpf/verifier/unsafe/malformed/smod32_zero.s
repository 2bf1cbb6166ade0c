# prog-type: xdp
# expect: malformed
# why: signed 32-bit modulo by the immediate 0
mov %r0, 1
smod32 %r0, 0
exit
