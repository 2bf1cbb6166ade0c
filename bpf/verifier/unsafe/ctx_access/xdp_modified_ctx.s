# prog-type: xdp
# expect: ctx_access
# why: a context pointer moved by arithmetic cannot be dereferenced
add %r1, 4
ldxw %r0, [%r1]
exit
