# prog-type: xdp
# expect: uninit_register
# why: the stored r8 was never written
stxdw [%r10-8], %r8
mov %r0, 0
exit
