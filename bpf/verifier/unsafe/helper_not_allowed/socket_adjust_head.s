# prog-type: socket_filter
# expect: helper_not_allowed
# why: bpf_xdp_adjust_head is for XDP only
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 44
mov %r0, 0
exit
