# prog-type: xdp
# profile: privileged — unprivileged, uninitialised stack reads are forbidden
# why: reading a slot never written is allowed to root (privileged profile); strict rejects it
ldxdw %r0, [%r10-8]
exit
