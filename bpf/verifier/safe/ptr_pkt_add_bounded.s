# prog-type: xdp
# profile: privileged — unprivileged, the kernel forbids adding a variable offset to a packet pointer
# why: a packet pointer plus a masked scalar, then checked
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
ldxw %r5, [%r1+16]
and %r5, 255
add %r2, %r5
mov %r4, %r2
add %r4, 1
jgt %r4, %r3, out
ldxb %r0, [%r2]
out:
exit
