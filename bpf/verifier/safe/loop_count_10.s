# prog-type: xdp
# profile: privileged — unprivileged, the kernel hits its 1M-instruction limit on this loop (no bypass of speculative-path checks)
# why: a loop of 10 iterations
mov %r0, 0
mov %r1, 10
l:
add %r0, 2
sub %r1, 1
jne %r1, 0, l
exit
