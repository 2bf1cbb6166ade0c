/* Reflects IPv4 packets: swaps MAC and IP addresses, decrements the TTL
 * with an incremental checksum update (RFC 1624), and sends the packet back
 * (XDP_TX). Non-IPv4 and TTL <= 1 packets pass. */
#include "common.h"

static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u8 tmp[ETH_ALEN];
	__be32 addr;
	__u32 csum;
	__be16 old;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->ttl <= 1)
		return XDP_PASS;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	/* The TTL shares a 16-bit word with the protocol. */
	old = *(__be16 *)&ip->ttl;
	ip->ttl--;
	csum = (__u16)~ip->check + (__u16)~old + *(__be16 *)&ip->ttl;
	ip->check = csum_fold(csum);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
