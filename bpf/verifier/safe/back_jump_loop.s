# prog-type: xdp
# profile: privileged — unprivileged, the kernel hits its 1M-instruction limit on this loop
# why: a backward jump to the start of a bounded loop
mov %r0, 3
l:
sub %r0, 1
jsgt %r0, 0, l
exit
