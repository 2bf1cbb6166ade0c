# prog-type: xdp
# expect: write_r10
# why: sub from r10 (moving the frame) (r10 is the read-only frame pointer)
sub %r10, 8
mov %r0, 0
exit
