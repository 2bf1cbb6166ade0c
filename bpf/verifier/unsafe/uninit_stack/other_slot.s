# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: the slot read is not the one written
stdw [%r10-8], 0
ldxdw %r0, [%r10-16]
exit
