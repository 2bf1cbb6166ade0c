# prog-type: xdp
# expect: write_r10
# why: and on r10 (r10 is the read-only frame pointer)
and %r10, -8
mov %r0, 0
exit
