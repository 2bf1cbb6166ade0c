# prog-type: xdp
# expect: scratched_register
# why: r3 clobbered by bpf_ktime_get_ns
mov %r3, 1
call 5
add %r0, %r3
exit
