# prog-type: xdp
# expect: malformed
# why: legacy packet loads exist only for socket filters and tc
ldabsb 0
exit
