# prog-type: xdp
# profile: privileged — bpf_trace_printk needs CAP_PERFMON
# why: the printk size is masked to 1..8, inside the 8-byte buffer
stdw [%r10-8], 0
call 7
and %r0, 7
add %r0, 1
mov %r2, %r0
mov %r1, %r10
add %r1, -8
call 6
mov %r0, 2
exit
