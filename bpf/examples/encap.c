/* IP-in-IP encapsulation with bpf_xdp_adjust_head: prepends an outer IPv4
 * header from 10.0.0.1 to 10.0.0.2 (checksum with bpf_csum_diff) and sends
 * the packet back out (XDP_TX). Non-IPv4 packets pass. */
#include "common.h"

SEC("xdp")
int encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, *neth;
	struct iphdr *inner = (void *)(eth + 1), *outer;
	struct ethhdr saved;
	__u16 inner_len;
	__u32 csum;

	if ((void *)(inner + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	saved = *eth;
	inner_len = bpf_ntohs(inner->tot_len);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	neth = data;
	outer = (void *)(neth + 1);
	if ((void *)(outer + 1) > data_end)
		return XDP_ABORTED;
	*neth = saved;
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = 0;
	outer->tot_len = bpf_htons(inner_len + sizeof(struct iphdr));
	outer->id = 0;
	outer->frag_off = 0;
	outer->ttl = 64;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = bpf_htonl(0x0a000001);
	outer->daddr = bpf_htonl(0x0a000002);
	csum = bpf_csum_diff(0, 0, (__be32 *)outer, sizeof(*outer), 0);
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	outer->check = ~csum;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
