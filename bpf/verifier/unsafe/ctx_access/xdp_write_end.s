# prog-type: xdp
# expect: ctx_access
# why: data_end cannot be written
mov %r2, 0
stxw [%r1+4], %r2
mov %r0, 0
exit
