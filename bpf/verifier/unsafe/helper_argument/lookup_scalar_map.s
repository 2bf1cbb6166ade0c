# prog-type: xdp
# expect: helper_argument
# why: bpf_map_lookup_elem gets a scalar where the map pointer goes
stw [%r10-4], 0
mov %r1, 0
mov %r2, %r10
add %r2, -4
call 1
mov %r0, 0
exit
