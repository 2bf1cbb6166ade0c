# prog-type: sched_cls
# expect: helper_not_allowed
# why: xdp_adjust_head is for XDP
mov %r2, 0
call 44
mov %r0, 0
exit
