# prog-type: xdp
# profile: privileged — bpf_trace_printk needs CAP_PERFMON
# why: bpf_trace_printk with an initialised 8-byte stack buffer and size 8
stdw [%r10-8], 0x0a6968
mov %r1, %r10
add %r1, -8
mov %r2, 8
call 6
mov %r0, 2
exit
