# prog-type: xdp
# expect: write_r10
# why: a load targets r10
ldxw %r10, [%r1+12]
mov %r0, 0
exit
