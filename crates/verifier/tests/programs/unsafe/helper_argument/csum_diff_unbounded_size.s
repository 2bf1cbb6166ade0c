# prog-type: xdp
# expect: helper_argument
# why: the size passed to csum_diff is not bounded
call 7
mov %r2, %r0
mov %r1, %r10
add %r1, -8
stdw [%r10-8], 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 28
mov %r0, 0
exit
