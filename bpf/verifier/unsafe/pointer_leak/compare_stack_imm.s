# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: jset on a stack pointer reveals address bits
mov %r0, 0
mov %r2, %r10
jset %r2, 7, +1
mov %r0, 1
exit
