# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: bpf_trace_printk reads 8 uninitialised stack bytes
mov %r1, %r10
add %r1, -8
mov %r2, 8
call 6
mov %r0, 0
exit
