# prog-type: xdp
# expect: unbounded_loop
# why: ja -1 loops forever
mov %r0, 0
ja -1
