# prog-type: xdp
# expect: write_r10
# why: lddw into r10 (r10 is the read-only frame pointer)
lddw %r10, 0x1000
mov %r0, 0
exit
