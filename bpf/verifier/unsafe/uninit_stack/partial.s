# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: 4 of the 8 bytes read were written
stw [%r10-8], 0
ldxdw %r0, [%r10-8]
exit
