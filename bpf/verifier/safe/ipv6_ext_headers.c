// prog-type: xdp
// profile: privileged — unprivileged, the kernel forbids adding a variable offset to a packet pointer
// why: parses IPv6 and skips up to 4 extension headers (hop-by-hop, routing, destination options) by their length byte, each checked
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ext_hdr {
	__u8 next;
	__u8 len;
};

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > end)
		return XDP_PASS;
	__u8 nh = ip6->nexthdr;
	void *p = ip6 + 1;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
			break;
		struct ext_hdr *x = p;
		if ((void *)(x + 1) > end)
			return XDP_PASS;
		nh = x->next;
		p += (x->len + 1) * 8;
	}
	if (nh != IPPROTO_UDP)
		return XDP_PASS;
	__u8 *b = p;
	if ((void *)(b + 8) > end)
		return XDP_PASS;
	return b[7] == 0 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
