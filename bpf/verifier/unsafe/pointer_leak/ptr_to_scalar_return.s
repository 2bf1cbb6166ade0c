# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: pointer - pointer of different kinds turns an address into a scalar
mov %r0, %r10
sub %r0, %r1
exit
