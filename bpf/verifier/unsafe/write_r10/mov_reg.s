# prog-type: xdp
# expect: write_r10
# why: copy the context into r10 (r10 is the read-only frame pointer)
mov %r10, %r1
mov %r0, 0
exit
