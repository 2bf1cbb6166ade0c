# prog-type: xdp
# expect: uninit_register
# why: xdp_adjust_head reads r2, never written
call 44
mov %r0, 0
exit
