// prog-type: xdp
// why: IPv6 then the UDP ports: 14 + 40 + 4 bytes checked before the port read
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6) || ip6->nexthdr != IPPROTO_UDP)
		return XDP_PASS;
	__be16 *ports = (void *)(ip6 + 1);
	if ((void *)(ports + 2) > end)
		return XDP_PASS;
	return ports[1] == bpf_htons(53) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
