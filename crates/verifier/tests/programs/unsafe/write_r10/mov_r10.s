# prog-type: xdp
# expect: write_r10
# why: r10 is written
mov %r10, 0
mov %r0, 0
exit
