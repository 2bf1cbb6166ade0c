# prog-type: xdp
# expect: helper_argument
# why: bpf_tail_call needs a program array, gets a scalar
mov %r2, 0
mov %r3, 0
call 12
mov %r0, 0
exit
