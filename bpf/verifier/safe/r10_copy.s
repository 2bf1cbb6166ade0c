# prog-type: xdp
# why: r10 is read (copied), never written
mov %r2, %r10
mov %r0, 0
exit
