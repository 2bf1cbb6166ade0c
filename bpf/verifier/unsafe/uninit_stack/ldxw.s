# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: 4 bytes read from a slot never written
ldxw %r0, [%r10-4]
exit
