# prog-type: sched_cls
# why: tc: 14 bytes proven, byte 13 written
ldxw %r2, [%r1+76]
ldxw %r3, [%r1+80]
mov %r0, 0
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
stb [%r2+13], 0
out:
exit
