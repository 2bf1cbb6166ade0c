# prog-type: xdp
# expect: helper_not_allowed
# why: helper 9999 does not exist
call 9999
mov %r0, 0
exit
