# prog-type: xdp
# expect: uninit_register
# why: r0 is never written before exit
exit
