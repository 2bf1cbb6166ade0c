// prog-type: xdp
// expect: helper_argument
// why: the lookup key is 2 bytes at the top of the stack, the map's key is 8 bytes
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u64); __type(value, __u64); } m SEC(".maps");
SEC("xdp")
int key_too_small(struct xdp_md *ctx)
{
	volatile __u16 k[4];
	k[3] = 7;
	__u64 *v = bpf_map_lookup_elem(&m, (void *)&k[3]);
	return v ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
