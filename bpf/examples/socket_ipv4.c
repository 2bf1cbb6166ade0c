/* A socket filter: keeps the first 64 bytes of IPv4 packets, drops the
 * rest (returns the number of bytes to keep, 0 to drop). */
#include "common.h"

SEC("socket")
int socket_ipv4(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	return skb->len < 64 ? skb->len : 64;
}

char LICENSE[] SEC("license") = "GPL";
