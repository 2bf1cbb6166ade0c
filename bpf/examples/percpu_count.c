/* Per-CPU packet and byte counter: slot 0 counts packets, slot 1 bytes. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int percpu_count(struct xdp_md *ctx)
{
	__u32 pkts = 0, bytes = 1;
	__u64 *v = bpf_map_lookup_elem(&counters, &pkts);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&counters, &bytes);
	if (v)
		*v += ctx->data_end - ctx->data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
