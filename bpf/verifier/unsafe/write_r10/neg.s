# prog-type: xdp
# expect: write_r10
# why: neg on r10 (r10 is the read-only frame pointer)
neg %r10
mov %r0, 0
exit
