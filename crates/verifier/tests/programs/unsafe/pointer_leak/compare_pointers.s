# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: strict: context and stack pointers compared
mov %r2, %r10
jgt %r1, %r2, +0
mov %r0, 0
exit
