// prog-type: xdp
// why: after bpf_xdp_adjust_head the program re-reads data and data_end and checks again before touching the packet
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
	if (bpf_xdp_adjust_head(ctx, 0))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	return eth->h_dest[0] & 1 ? XDP_PASS : XDP_TX;
}

char _license[] SEC("license") = "GPL";
