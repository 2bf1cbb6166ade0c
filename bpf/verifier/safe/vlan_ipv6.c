// prog-type: xdp
// why: an 802.1Q tag followed by IPv6: the IPv6 header offset depends on the tag
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

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__u16 proto = eth->h_proto;
	void *next = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *v = next;
		if ((void *)(v + 1) > end)
			return XDP_PASS;
		proto = v->proto;
		next = v + 1;
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	struct ipv6hdr *ip6 = next;
	if ((void *)(ip6 + 1) > end)
		return XDP_PASS;
	return ip6->hop_limit == 0 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
