# prog-type: xdp
# expect: uninit_register
# why: r2 holds nothing at entry (only r1 and r10 do)
mov %r0, %r2
exit
