# prog-type: xdp
# expect: uninit_register
# why: the program returns what a void function left in r0, which nobody set
call local f
exit
f:
exit
