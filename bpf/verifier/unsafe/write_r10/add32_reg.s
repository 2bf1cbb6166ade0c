# prog-type: xdp
# expect: write_r10
# why: 32-bit add into r10 (r10 is the read-only frame pointer)
mov %r2, 1
add32 %r10, %r2
mov %r0, 0
exit
