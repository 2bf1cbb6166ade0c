/* A .rodata configuration switch and .data/.bss globals: drops UDP when
 * `drop_udp` is set (by the loader, before loading), counts seen packets in
 * .bss and remembers the last verdict in .data. */
#include "common.h"

const volatile __u32 drop_udp = 0;
const volatile __u8 mark = 0x5a;
__u64 seen = 0;
__u32 last_verdict = 0xffffffff;

SEC("xdp")
int rodata_config(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 verdict = XDP_PASS;

	seen++;
	if ((void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP) &&
	    ip->protocol == IPPROTO_UDP && drop_udp) {
		verdict = XDP_DROP;
		ip->tos = mark;
	}
	last_verdict = verdict;
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
