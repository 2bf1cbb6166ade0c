# prog-type: xdp
# expect: pointer_leak
# profile: strict
# why: a stack pointer passed as a printk argument leaks its address
stdw [%r10-8], 0
mov %r1, %r10
add %r1, -8
mov %r2, 8
mov %r3, %r10
call 6
mov %r0, 0
exit
