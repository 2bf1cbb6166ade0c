# prog-type: xdp
# expect: helper_not_allowed
# why: helper 0 (BPF_FUNC_unspec) is not a helper
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 0
mov %r0, 0
exit
