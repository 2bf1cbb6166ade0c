# prog-type: xdp
# profile: privileged — unprivileged, the kernel hits its 1M-instruction limit on this loop
# why: a loop of 100 iterations
mov %r0, 0
mov %r2, 0
l:
add %r0, %r2
add %r2, 1
jlt %r2, 100, l
exit
