# The baseline: what a run costs when the program does nothing.
mov %r0, 0
exit
