# prog-type: xdp
# expect: helper_argument
# why: xdp_adjust_head needs the context in r1
mov %r1, %r10
add %r1, -8
mov %r2, 0
call 44
mov %r0, 0
exit
