# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: strict: 4 of the 8 bytes read were written
stw [%r10-8], 1
ldxdw %r0, [%r10-8]
exit
