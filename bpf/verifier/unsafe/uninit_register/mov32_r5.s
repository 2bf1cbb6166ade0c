# prog-type: xdp
# expect: uninit_register
# why: r5 holds nothing at entry
mov32 %r0, %r5
exit
