# prog-type: xdp
# expect: scratched_register
# why: r4 clobbered by bpf_get_smp_processor_id
mov %r4, 1
call 8
jeq %r4, 0, +0
exit
