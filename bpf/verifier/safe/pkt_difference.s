# prog-type: xdp
# profile: privileged — unprivileged, pointer - pointer is forbidden
# why: data_end - data is a scalar (packet length)
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r0, %r3
sub %r0, %r2
exit
