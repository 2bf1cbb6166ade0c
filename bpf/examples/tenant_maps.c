/* Map-in-map: `tenants` (an array of maps) holds one counter table per
 * tenant, selected by the receive queue. The object installs tenant 0's
 * table; a control plane installs others at run time. A packet of a tenant
 * with no table is dropped; otherwise its table counts it by protocol
 * class (0: other, 1: TCP, 2: UDP) and it passes. */
#include "common.h"

struct tenant_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
};

struct tenant_table tenant0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct tenant_table);
} tenants SEC(".maps") = {
	.values = { [0] = &tenant0 },
};

SEC("xdp")
int per_tenant(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 tenant = ctx->rx_queue_index;
	__u32 class = 0;
	__u64 *count;
	void *table;

	table = bpf_map_lookup_elem(&tenants, &tenant);
	if (!table)
		return XDP_DROP;
	if ((void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP)) {
		if (ip->protocol == IPPROTO_TCP)
			class = 1;
		else if (ip->protocol == IPPROTO_UDP)
			class = 2;
	}
	count = bpf_map_lookup_elem(table, &class);
	if (count)
		__sync_fetch_and_add(count, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
