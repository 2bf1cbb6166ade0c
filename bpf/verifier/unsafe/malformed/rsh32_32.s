# prog-type: xdp
# expect: malformed
# why: a 32-bit shift by 32 (imm must be < 32)
mov %r0, 1
rsh32 %r0, 32
exit
