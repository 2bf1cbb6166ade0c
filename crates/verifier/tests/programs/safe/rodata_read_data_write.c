// prog-type: xdp
// why: .rodata read through a bounded index, .data and .bss written
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static const volatile __u32 limits[4] = {1, 2, 3, 4};
__u64 seen = 0;
__u32 last_queue = 7;
SEC("xdp")
int rodata_read(struct xdp_md *ctx)
{
	__u32 q = ctx->rx_queue_index & 3;
	seen += limits[q];
	last_queue = q;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
