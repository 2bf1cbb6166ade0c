# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: the lower half of the slot is read, only the upper half was written
stw [%r10-4], 0
ldxw %r0, [%r10-8]
exit
