# prog-type: xdp
# expect: scratched_register
# why: a bpf-to-bpf call clobbers r1-r5 too
call local f
mov %r0, %r1
exit
f:
mov %r0, 0
exit
