# prog-type: xdp
# why: privileged programs may compare pointers
mov %r2, %r10
jgt %r1, %r2, +0
mov %r0, 0
exit
