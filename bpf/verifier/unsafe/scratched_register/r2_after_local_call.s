# prog-type: xdp
# expect: scratched_register
# why: r2 written before a bpf-to-bpf call is clobbered by it
mov %r2, 3
call local f
add %r0, %r2
exit
f:
mov %r0, 0
exit
