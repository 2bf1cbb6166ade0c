# prog-type: xdp
# why: shifts by 63 and 31, the largest allowed
mov %r0, 1
lsh %r0, 63
rsh %r0, 63
lsh32 %r0, 31
arsh32 %r0, 31
exit
