# prog-type: xdp
# why: a 32-bit conditional jump inside the program
mov %r0, 0
jeq32 %r0, 0, +1
mov %r0, 1
exit
