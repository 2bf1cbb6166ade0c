# prog-type: xdp
# why: privileged programs may read uninitialised stack (as the kernel allows root)
ldxdw %r0, [%r10-8]
exit
