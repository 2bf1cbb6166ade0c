# prog-type: xdp
# expect: write_r10
# why: r10 is read-only in a callee too (r10 is the read-only frame pointer)
call local f
mov %r0, 0
exit
f:
mov %r10, %r1
mov %r0, 0
exit
