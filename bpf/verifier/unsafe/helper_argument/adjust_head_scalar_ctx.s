# prog-type: xdp
# expect: helper_argument
# why: bpf_xdp_adjust_head needs the context, gets a scalar
mov %r1, 0
mov %r2, 0
call 44
mov %r0, 0
exit
