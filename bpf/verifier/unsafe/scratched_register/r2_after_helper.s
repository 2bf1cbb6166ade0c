# prog-type: xdp
# expect: scratched_register
# why: r2 was written before the call but the call clobbers it
mov %r2, 1
call 7
mov %r0, %r2
exit
