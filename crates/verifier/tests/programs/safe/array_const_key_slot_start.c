// prog-type: xdp
// why: a constant key stored with a 4-byte store at the start of a stack slot is known, so the lookup cannot fail
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } a SEC(".maps");
SEC("xdp")
int arr8(struct xdp_md *ctx)
{
	__u64 buf[2];
	*(volatile __u32 *)&buf[0] = 3;
	__u64 *v = bpf_map_lookup_elem(&a, &buf[0]);
	*v += 1;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
