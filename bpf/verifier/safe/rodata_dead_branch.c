// prog-type: xdp
// why: `debug` is a frozen .rodata constant 0, so the branch that reads the packet without a bounds check is dead; the kernel (bpf_map_direct_read) and oxbpf both skip it
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 debug = 0;

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	if (debug) {
		/* Unsafe if it ever ran: no comparison with data_end. */
		__u8 *data = (void *)(long)ctx->data;

		return data[100];
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
