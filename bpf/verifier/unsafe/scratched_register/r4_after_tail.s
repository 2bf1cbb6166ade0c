# prog-type: xdp
# expect: scratched_register
# why: r1 restored from r6 but r4 still clobbered
mov %r6, %r1
mov %r4, 0
call 5
mov %r1, %r6
mov %r0, %r4
exit
