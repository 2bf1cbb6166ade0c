# prog-type: xdp
# expect: malformed
# why: a 64-bit shift by 64 (imm must be < 64)
mov %r0, 1
lsh %r0, 64
exit
