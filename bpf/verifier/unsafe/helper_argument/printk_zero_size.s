# prog-type: xdp
# expect: helper_argument
# why: the size 0 is not allowed for ARG_CONST_SIZE
stdw [%r10-8], 0
mov %r1, %r10
add %r1, -8
mov %r2, 0
call 6
mov %r0, 0
exit
