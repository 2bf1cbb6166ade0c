# prog-type: xdp
# profile: privileged — unprivileged, variable-offset stack access is forbidden
# why: a variable offset r10-16..r10-9 written (privileged allows variable-offset stack writes in bounds)
call 7
and %r0, 7
mov %r2, %r10
add %r2, -16
add %r2, %r0
stb [%r2], 0
mov %r0, 0
exit
