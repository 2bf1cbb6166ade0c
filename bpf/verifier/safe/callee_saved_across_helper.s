# prog-type: xdp
# why: r6-r9 survive a helper call
mov %r6, 1
mov %r7, 2
mov %r8, 3
mov %r9, 4
call 7
mov %r0, %r6
add %r0, %r7
add %r0, %r8
add %r0, %r9
exit
