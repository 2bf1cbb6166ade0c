# prog-type: xdp
# expect: helper_not_allowed
# why: the old probe_read is only for tracing programs
mov %r1, %r10
add %r1, -8
mov %r2, 8
mov %r3, 0
call 4
mov %r0, 0
exit
