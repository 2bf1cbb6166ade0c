# prog-type: xdp
# profile: privileged — unprivileged, the kernel gives up on this loop (jump sequence too complex)
# why: a loop over up to 16 packet bytes, each checked against data_end
ldxw %r2, [%r1]
ldxw %r3, [%r1+4]
mov %r0, 1
mov %r0, 0
mov %r5, 0
l:
mov %r4, %r2
add %r4, 1
jgt %r4, %r3, out
ldxb %r6, [%r2]
add %r0, %r6
add %r2, 1
add %r5, 1
jlt %r5, 16, l
out:
exit
