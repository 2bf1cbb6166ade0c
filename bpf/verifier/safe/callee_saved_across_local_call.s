# prog-type: xdp
# why: r6 survives a bpf-to-bpf call
mov %r6, 5
call local f
add %r0, %r6
exit
f:
mov %r6, 9
mov %r0, 1
exit
