# prog-type: xdp
# expect: scratched_register
# why: r1 is clobbered by bpf_get_prandom_u32
call 7
mov %r0, %r1
exit
