# prog-type: xdp
# expect: scratched_register
# why: r3 clobbered by the calls
mov %r3, 2
call 7
call 7
mov %r0, %r3
exit
