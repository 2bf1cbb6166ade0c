# prog-type: xdp
# expect: malformed
# why: legacy packet loads (ld_abs) exist only for socket filters and tc
mov %r6, %r1
ldabsb 0
exit
