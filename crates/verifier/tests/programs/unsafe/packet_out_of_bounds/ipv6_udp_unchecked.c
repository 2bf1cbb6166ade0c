// prog-type: xdp
// expect: packet_out_of_bounds
// why: the UDP header after the IPv6 extension headers is read without checking data_end
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct vlan_hdr { __be16 tci; __be16 proto; };
struct key { __u8 proto; __u32 addr; __u16 port; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, struct key); __type(value, __u64); } counts SEC(".maps");
SEC("xdp")
int vlan_ipv6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;
	void *cur;
	int i;
	if ((void *)(eth + 1) > data_end) return XDP_PASS;
	proto = eth->h_proto;
	cur = eth + 1;
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_hdr *v = cur;
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
		if ((void *)(v + 1) > data_end) return XDP_DROP;
		proto = v->proto;
		cur = v + 1;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		__u8 nh;
		if ((void *)(ip6 + 1) > data_end) return XDP_DROP;
		nh = ip6->nexthdr;
		cur = ip6 + 1;
#pragma unroll
		for (i = 0; i < 3; i++) {
			struct ipv6_opt_hdr *opt = cur;
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS) break;
			if ((void *)(opt + 1) > data_end) return XDP_DROP;
			nh = opt->nexthdr;
			cur = (void *)opt + (opt->hdrlen + 1) * 8;
		}
		if (nh == IPPROTO_UDP) {
			struct udphdr *udp = cur;
			struct key k;
			__builtin_memset(&k, 0, sizeof(k));
			k.proto = nh; k.port = udp->dest; k.addr = ip6->daddr.s6_addr32[3];
			__u64 *c = bpf_map_lookup_elem(&counts, &k);
			if (c) __sync_fetch_and_add(c, 1);
			else { __u64 one = 1; bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST); }
		}
	} else if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cur;
		if ((void *)(ip + 1) > data_end) return XDP_DROP;
		if (ip->ihl < 5) return XDP_DROP;
		struct udphdr *udp = (void *)ip + ip->ihl * 4;
		if ((void *)(udp + 1) > data_end) return XDP_DROP;
		if (udp->dest == bpf_htons(53)) return XDP_DROP;
	}
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
