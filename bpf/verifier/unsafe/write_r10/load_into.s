# prog-type: xdp
# expect: write_r10
# why: a load whose destination is r10 (r10 is the read-only frame pointer)
stdw [%r10-8], 0
ldxdw %r10, [%r10-8]
mov %r0, 0
exit
