# prog-type: xdp
# expect: unreachable
# why: a store after exit
mov %r0, 0
exit
stdw [%r10-8], 1
exit
