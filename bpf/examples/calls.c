/* bpf-to-bpf calls: non-inlined functions (one of them taking the context)
 * compute a verdict from the Ethernet header. */
#include "common.h"

static __attribute__((noinline)) int is_broadcast(const __u8 *mac)
{
	int i;
	for (i = 0; i < ETH_ALEN; i++)
		if (mac[i] != 0xff)
			return 0;
	return 1;
}

static __attribute__((noinline)) int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	if (is_broadcast(eth->h_dest))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int calls(struct xdp_md *ctx)
{
	return classify(ctx);
}

char LICENSE[] SEC("license") = "GPL";
