/* Packet parser with bounds checks: Ethernet, up to two VLAN tags, IPv4
 * (with options), IPv6, TCP, UDP, ICMP. Counts packets per layer-4 protocol
 * number in `proto_count`, drops TCP to port 23, passes everything else,
 * and aborts on a truncated header. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

static __always_inline void count(__u32 proto)
{
	__u64 *v = bpf_map_lookup_elem(&proto_count, &proto);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l4;
	__u8 proto;
	__u16 h_proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	h_proto = eth->h_proto;
	data = eth + 1;
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_hdr *vh = data;
		if (h_proto != bpf_htons(ETH_P_8021Q) && h_proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return XDP_ABORTED;
		h_proto = vh->encap_proto;
		data = vh + 1;
	}
	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return XDP_ABORTED;
		l4 = (void *)ip + ip->ihl * 4;
		proto = ip->protocol;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;
		if ((void *)(ip6 + 1) > data_end)
			return XDP_ABORTED;
		l4 = ip6 + 1;
		proto = ip6->nexthdr;
	} else {
		return XDP_PASS;
	}
	count(proto);
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > data_end)
			return XDP_ABORTED;
		if (tcp->dest == bpf_htons(23))
			return XDP_DROP;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > data_end)
			return XDP_ABORTED;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		struct icmphdr *icmp = l4;
		if ((void *)(icmp + 1) > data_end)
			return XDP_ABORTED;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
