# prog-type: xdp
# expect: scratched_register
# why: r5 read after the call on one path
mov %r5, 0
call 7
jeq %r0, 0, +1
mov %r0, %r5
exit
