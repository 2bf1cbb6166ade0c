/* A tc classifier: marks IPv4 packets with their DSCP plus 0x100, keeps
 * the packet length in cb[0], drops IPv6 (TC_ACT_SHOT) and lets everything
 * else through (TC_ACT_OK). Reads len, protocol, data and data_end. */
#include "common.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	skb->cb[0] = skb->len;
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return TC_ACT_SHOT;
	if (skb->protocol != bpf_htons(ETH_P_IP) || (void *)(ip + 1) > data_end)
		return TC_ACT_OK;
	skb->mark = 0x100 | (ip->tos >> 2);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
