# prog-type: xdp
# profile: privileged — unprivileged, pointer - pointer is forbidden
# why: packet pointer minus packet pointer is a scalar
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r5, %r3
sub %r5, %r2
mov %r0, %r5
and %r0, 3
exit
