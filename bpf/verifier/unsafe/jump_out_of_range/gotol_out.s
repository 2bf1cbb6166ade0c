# prog-type: xdp
# expect: jump_out_of_range
# why: gotol (ja32) far past the end
mov %r0, 0
gotol +1000
exit
