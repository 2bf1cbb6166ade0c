# prog-type: xdp
# why: division and modulo by non-zero immediates
mov %r0, 100
div %r0, 7
mod32 %r0, 3
sdiv %r0, -2
exit
