# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: byte r10-4 was never written
stb [%r10-3], 0
ldxh %r0, [%r10-4]
exit
