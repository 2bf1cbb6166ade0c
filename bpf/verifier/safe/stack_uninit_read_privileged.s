# prog-type: xdp
# why: reading a slot never written is allowed to root (privileged profile); strict rejects it
ldxdw %r0, [%r10-8]
exit
