# prog-type: xdp
# expect: scratched_register
# why: r1 is clobbered by the helper call
call 7
mov %r0, %r1
exit
