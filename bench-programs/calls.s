# Call-heavy: bpf-to-bpf calls in a loop, two levels deep, 1,000
# iterations.
mov %r6, 0
mov %r7, 0
loop:
mov %r1, %r6
mov %r2, %r7
call local f
mov %r7, %r0
add %r6, 1
jlt %r6, 1000, loop
mov %r0, %r7
exit
f:
mov %r6, %r1
mul %r6, 3
add %r6, %r2
mov %r1, %r6
call local g
add %r0, %r6
exit
g:
mov %r0, %r1
rsh %r0, 3
xor %r0, 0x5a5a
exit
