# prog-type: xdp
# why: privileged programs may subtract pointers in 32 bits (the result is a number), as clang does for (u32)(data_end - data)
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov32 %r4, %r3
sub32 %r4, %r2
mov %r0, 2
exit
