# prog-type: xdp
# why: bpf_get_prandom_u32 takes no arguments
call 7
exit
