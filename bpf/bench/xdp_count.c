/* Counts packets and bytes per CPU, then drops: a map update per packet. */
#include "../examples/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 pkts = 0, bytes = 1;
	__u64 *v = bpf_map_lookup_elem(&counters, &pkts);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&counters, &bytes);
	if (v)
		*v += ctx->data_end - ctx->data;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
