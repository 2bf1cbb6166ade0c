# prog-type: xdp
# expect: write_r10
# why: byte swap in place on r10 (r10 is the read-only frame pointer)
le64 %r10
mov %r0, 0
exit
