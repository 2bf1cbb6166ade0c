# prog-type: xdp
# expect: stack_out_of_bounds
# why: a pointer stored with a 4-byte store
stxw [%r10-8], %r1
mov %r0, 0
exit
