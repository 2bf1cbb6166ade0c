# prog-type: sched_cls
# why: __sk_buff data/data_end bounds check
ldxw %r2, [%r1+76]
ldxw %r3, [%r1+80]
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, +2
ldxb %r0, [%r2+13]
exit
mov %r0, 1
exit
