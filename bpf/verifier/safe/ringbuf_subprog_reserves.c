// prog-type: xdp
// why: a subprogram reserves and returns the record, the main program checks and submits it
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

static __attribute__((noinline)) __u32 *get(__u32 v)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (e)
		*e = v;
	return e;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 *e = get(ctx->rx_queue_index);

	if (!e)
		return XDP_DROP;
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
