# prog-type: xdp
# expect: helper_argument
# why: the size is a random 32-bit value with no bound
stdw [%r10-8], 0
call 7
mov %r2, %r0
mov %r1, %r10
add %r1, -8
call 6
mov %r0, 0
exit
