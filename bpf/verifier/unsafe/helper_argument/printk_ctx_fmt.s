# prog-type: xdp
# expect: helper_argument
# why: bpf_trace_printk needs a pointer to readable memory, gets the context
mov %r2, 8
call 6
mov %r0, 0
exit
