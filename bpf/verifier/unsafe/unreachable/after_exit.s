# prog-type: xdp
# expect: unreachable
# why: the instructions after the first exit are never reached
mov %r0, 0
exit
mov %r0, 1
exit
