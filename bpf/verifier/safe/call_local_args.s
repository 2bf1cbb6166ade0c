# prog-type: xdp
# why: a bpf-to-bpf call with arguments in r1-r2 and the result in r0
mov %r1, 20
mov %r2, 22
call local add
exit
add:
mov %r0, %r1
add %r0, %r2
exit
