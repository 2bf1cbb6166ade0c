# prog-type: xdp
# expect: ctx_access
# why: xdp_md is read-only
stw [%r1], 0
mov %r0, 0
exit
