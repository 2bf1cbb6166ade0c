// prog-type: xdp
// expect: null_deref
// why: key 4 is past max_entries 4: the lookup may fail and is not checked
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } a SEC(".maps");
SEC("xdp")
int arrk(struct xdp_md *ctx)
{
	__u32 k = 4;
	__u64 *v = bpf_map_lookup_elem(&a, &k);
	*v += 1;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
