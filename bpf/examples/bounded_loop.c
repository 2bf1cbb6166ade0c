/* A bounded loop (clang keeps it a loop): sums the payload bytes after
 * the Ethernet header, up to 64 of them, and stores the sum in `sums[0]`.
 * Drops when the sum is odd. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sums SEC(".maps");

SEC("xdp")
int bounded_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data + sizeof(struct ethhdr);
	__u64 sum = 0;
	__u32 zero = 0;
	__u64 *slot;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 64; i++) {
		if ((void *)(p + i + 1) > data_end)
			break;
		sum += p[i];
	}
	slot = bpf_map_lookup_elem(&sums, &zero);
	if (slot)
		*slot = sum;
	return (sum & 1) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
