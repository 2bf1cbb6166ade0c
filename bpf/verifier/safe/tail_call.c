// prog-type: xdp
// why: bpf_tail_call through a program array with an index from the context
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, ctx->rx_queue_index & 3);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
