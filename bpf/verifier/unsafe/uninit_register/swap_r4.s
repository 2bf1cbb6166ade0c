# prog-type: xdp
# expect: uninit_register
# why: be16 reads r4, never written
be16 %r4
mov %r0, 0
exit
