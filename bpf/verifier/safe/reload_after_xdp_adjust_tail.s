# prog-type: xdp
# why: packet pointers are read again from the context after bpf_xdp_adjust_tail
mov %r6, %r1
mov %r1, %r6
mov %r2, 0
call 65
ldxw %r2, [%r6]
ldxw %r3, [%r6+4]
mov %r0, 1
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
ldxb %r0, [%r2]
out:
exit
