# prog-type: sched_cls
# expect: helper_not_allowed
# why: bpf_xdp_adjust_tail is for XDP only
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 65
mov %r0, 0
exit
