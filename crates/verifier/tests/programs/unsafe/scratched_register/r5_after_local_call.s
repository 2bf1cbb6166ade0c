# prog-type: xdp
# expect: scratched_register
# why: r5 is clobbered by a bpf-to-bpf call
mov %r5, 1
call local f
mov %r0, %r5
exit
f:
mov %r0, 0
exit
