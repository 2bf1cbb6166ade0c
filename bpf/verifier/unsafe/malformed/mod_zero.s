# prog-type: xdp
# expect: malformed
# why: 64-bit modulo by the immediate 0
mov %r0, 1
mod %r0, 0
exit
