# prog-type: xdp
# expect: scratched_register
# why: r1 was the context before the call, not after
call 7
ldxw %r0, [%r1]
exit
