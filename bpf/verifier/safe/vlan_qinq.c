// prog-type: xdp
// why: parses Ethernet and up to two VLAN tags (802.1ad outer, 802.1Q inner) in an unrolled loop, then IPv4
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
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *v = next;
		if ((void *)(v + 1) > end)
			return XDP_PASS;
		proto = v->proto;
		next = v + 1;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = next;
	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	return ip->ttl <= 1 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
