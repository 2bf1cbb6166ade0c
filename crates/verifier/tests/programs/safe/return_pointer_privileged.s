# prog-type: xdp
# why: privileged programs may return a pointer value
mov %r0, %r10
exit
