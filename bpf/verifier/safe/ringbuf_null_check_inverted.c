// prog-type: xdp
// why: the record is used and submitted inside `if (e)`; the null path reserved nothing
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
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (e) {
		*e = ctx->rx_queue_index;
		bpf_ringbuf_submit(e, 0);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
