# prog-type: xdp
# expect: write_r10
# why: mov into r10 (r10 is the read-only frame pointer)
mov %r10, 0
mov %r0, 0
exit
