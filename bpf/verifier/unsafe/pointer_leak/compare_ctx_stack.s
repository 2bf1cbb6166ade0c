# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: two pointers compared
mov %r0, 0
jeq %r1, %r10, +1
mov %r0, 1
exit
