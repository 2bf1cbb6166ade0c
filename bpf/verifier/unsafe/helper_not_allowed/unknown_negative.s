# prog-type: xdp
# expect: helper_not_allowed
# why: a negative helper id
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call -5
mov %r0, 0
exit
