# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: a pointer compared with a scalar other than a null check
mov %r0, 0
jgt %r1, 100, +1
mov %r0, 1
exit
