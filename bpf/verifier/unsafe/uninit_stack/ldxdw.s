# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: 8 bytes read from a slot never written
ldxdw %r0, [%r10-8]
exit
