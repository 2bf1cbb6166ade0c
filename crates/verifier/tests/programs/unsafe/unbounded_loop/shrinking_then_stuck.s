# prog-type: xdp
# expect: unbounded_loop
# why: the loop condition never changes once r0 is in [1, 255]
call 7
and %r0, 255
jne %r0, 0, -1
exit
