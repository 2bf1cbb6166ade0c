// prog-type: xdp
// why: every case of a switch submits or discards the record
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 q = ctx->rx_queue_index;
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return XDP_PASS;
	*e = q;
	if (q == 0) {
		bpf_ringbuf_submit(e, 0);
		return XDP_PASS;
	}
	if (q == 1) {
		bpf_ringbuf_discard(e, 0);
		return XDP_DROP;
	}
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
