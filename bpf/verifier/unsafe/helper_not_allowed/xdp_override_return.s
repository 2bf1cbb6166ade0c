# prog-type: xdp
# expect: helper_not_allowed
# why: bpf_override_return is for kprobes
mov %r2, 0
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 58
mov %r0, 0
exit
