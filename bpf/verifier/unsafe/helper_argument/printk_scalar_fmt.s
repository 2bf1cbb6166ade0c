# prog-type: xdp
# expect: helper_argument
# why: bpf_trace_printk needs a pointer to memory, gets a scalar
mov %r1, 0
mov %r2, 4
call 6
mov %r0, 0
exit
