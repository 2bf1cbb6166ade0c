# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: the bottom byte of the frame was never written
ldxb %r0, [%r10-512]
exit
