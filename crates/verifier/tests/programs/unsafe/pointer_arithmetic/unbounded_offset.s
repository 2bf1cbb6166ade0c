# prog-type: xdp
# expect: pointer_arithmetic
# why: an unbounded number added to the stack pointer
call 7
lsh %r0, 40
mov %r1, %r10
add %r1, %r0
mov %r0, 0
exit
