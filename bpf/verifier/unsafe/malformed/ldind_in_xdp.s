# prog-type: xdp
# expect: malformed
# why: legacy packet loads (ld_ind) exist only for socket filters and tc
mov %r6, %r1
mov %r2, 0
ldindh %r2, 0
exit
