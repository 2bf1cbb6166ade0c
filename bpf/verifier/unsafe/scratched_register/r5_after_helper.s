# prog-type: xdp
# expect: scratched_register
# why: r5 clobbered, then stored
mov %r5, 1
call 7
stxdw [%r10-8], %r5
exit
