/* Route lookup in an LPM trie: the longest prefix matching the IPv4
 * destination decides the verdict; no matching route drops. */
#include "common.h"

struct route_key {
	__u32 prefixlen;
	__be32 daddr;
};

struct route {
	__u32 action; /* an XDP verdict */
	__u32 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct route_key);
	__type(value, struct route);
} routes SEC(".maps");

SEC("xdp")
int lpm_route(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct route_key key;
	struct route *r;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	key.prefixlen = 32;
	key.daddr = ip->daddr;
	r = bpf_map_lookup_elem(&routes, &key);
	if (!r)
		return XDP_DROP;
	__sync_fetch_and_add(&r->hits, 1);
	return r->action;
}

char LICENSE[] SEC("license") = "GPL";
