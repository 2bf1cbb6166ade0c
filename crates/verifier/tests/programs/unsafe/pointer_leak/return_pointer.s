# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: strict: a pointer is returned
mov %r0, %r10
exit
