# prog-type: xdp
# expect: uninit_register
# why: a bpf-to-bpf callee starts with r6-r9 unset
call local f
exit
f:
mov %r0, %r6
exit
