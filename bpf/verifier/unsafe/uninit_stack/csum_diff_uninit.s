# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: bpf_csum_diff reads 8 uninitialised stack bytes
mov %r1, %r10
add %r1, -8
mov %r2, 8
mov %r3, 0
mov %r4, 0
mov %r5, 0
call 28
mov %r0, 0
exit
