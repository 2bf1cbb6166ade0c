# prog-type: xdp
# expect: write_r10
# why: add to r10 (r10 is the read-only frame pointer)
add %r10, 8
mov %r0, 0
exit
