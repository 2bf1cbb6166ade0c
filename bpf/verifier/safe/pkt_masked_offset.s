# prog-type: xdp
# profile: privileged — unprivileged, the kernel forbids adding a variable offset to a packet pointer
# why: a variable offset 0..7 added to data, then checked: the load is inside
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
ldxw %r5, [%r1+12]
and %r5, 7
add %r2, %r5
mov %r4, %r2
add %r4, 4
jgt %r4, %r3, out
ldxw %r0, [%r2]
out:
exit
