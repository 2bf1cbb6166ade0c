// prog-type: xdp
// why: perf_event_output of a stack struct, (u32)(data_end - data), a switch, an LRU lookup whose value is copied into the packet, redirect_map to a devmap
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_DEVMAP); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } ports SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, struct ethhdr); } macs SEC(".maps");
struct ev { __u8 hdr[14]; __u16 proto; __u32 len; };
SEC("xdp")
int misc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ev e = {};
	if ((void *)(eth + 1) > end) return XDP_ABORTED;
	__builtin_memcpy(e.hdr, eth, sizeof(e.hdr));
	e.proto = bpf_ntohs(eth->h_proto);
	e.len = (__u32)(end - data);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	switch (e.proto) {
	case ETH_P_IP: {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end) return XDP_DROP;
		int ttl = ip->ttl;
		if (ttl - 1 < 0) return XDP_DROP;
		__u32 k = ip->daddr;
		struct ethhdr *m = bpf_map_lookup_elem(&macs, &k);
		if (m) { __builtin_memcpy(eth->h_dest, m->h_source, ETH_ALEN); return bpf_redirect_map(&ports, ttl & 7, 0); }
		return XDP_PASS;
	}
	case ETH_P_IPV6: return XDP_PASS;
	case ETH_P_ARP: return XDP_TX;
	default: return XDP_DROP;
	}
}
char LICENSE[] SEC("license") = "GPL";
