// prog-type: xdp
// why: bpf_csum_diff over two initialised 4-byte stack buffers
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
	__be32 from = 1, to = ctx->rx_queue_index;
	__s64 c = bpf_csum_diff(&from, 4, &to, 4, 0);
	return c & 1 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
