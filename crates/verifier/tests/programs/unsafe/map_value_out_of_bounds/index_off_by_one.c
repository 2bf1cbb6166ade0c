// prog-type: xdp
// expect: map_value_out_of_bounds
// why: index 8 of an 8-element value array passes the off-by-one check
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64[8]); } arr SEC(".maps");
static __attribute__((noinline)) int sum(__u64 *v, int n)
{
	int s = 0, i;
	for (i = 0; i < n && i < 8; i++) s += v[i];
	return s;
}
SEC("xdp")
int spill_loop(struct xdp_md *ctx)
{
	__u32 k = bpf_get_prandom_u32() & 3;
	__u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (!v) return XDP_PASS;
	__u32 idx = bpf_get_prandom_u32();
	if (idx <= 8) v[idx] += 1;
	return sum(v, ctx->rx_queue_index) & 1 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
