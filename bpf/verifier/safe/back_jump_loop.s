# prog-type: xdp
# why: a backward jump to the start of a bounded loop
mov %r0, 3
l:
sub %r0, 1
jsgt %r0, 0, l
exit
