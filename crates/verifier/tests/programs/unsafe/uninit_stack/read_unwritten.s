# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: strict: a stack slot never written is read
ldxdw %r0, [%r10-8]
exit
