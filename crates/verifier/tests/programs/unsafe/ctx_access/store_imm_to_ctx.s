# prog-type: xdp
# expect: ctx_access
# why: immediate stores into the context
stw [%r1+0], 0
mov %r0, 0
exit
