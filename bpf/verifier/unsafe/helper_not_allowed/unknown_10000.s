# prog-type: xdp
# expect: helper_not_allowed
# why: helper 10000 does not exist
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 10000
mov %r0, 0
exit
