# prog-type: xdp
# why: nested bpf-to-bpf calls
mov %r1, 1
call local f
exit
f:
add %r1, 1
call local g
exit
g:
mov %r0, %r1
exit
