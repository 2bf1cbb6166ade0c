# prog-type: xdp
# expect: uninit_stack
# profile: strict
# why: bytes r10-16..r10-9 may be read, never written
stdw [%r10-8], 0
call 7
and %r0, 15
mov %r2, %r10
add %r2, -16
add %r2, %r0
ldxb %r0, [%r2]
exit
