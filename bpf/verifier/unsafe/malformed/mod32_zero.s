# prog-type: xdp
# expect: malformed
# why: 32-bit modulo by the immediate 0
mov %r0, 1
mod32 %r0, 0
exit
