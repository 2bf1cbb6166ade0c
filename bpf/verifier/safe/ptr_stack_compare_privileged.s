# prog-type: xdp
# profile: privileged — unprivileged, pointer comparisons are forbidden
# why: comparing two pointers is allowed to root (privileged); strict rejects it
mov %r0, 0
jeq %r1, %r10, +1
mov %r0, 1
exit
