// prog-type: xdp
// why: the main program reserves, a subprogram fills and submits: references are not tied to a frame
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

static __attribute__((noinline)) int send(__u32 *e, __u32 v)
{
	*e = v;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return XDP_PASS;
	send(e, ctx->rx_queue_index);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
