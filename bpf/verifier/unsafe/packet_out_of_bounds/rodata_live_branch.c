// prog-type: xdp
// expect: packet_out_of_bounds
// why: as safe/rodata_dead_branch.c, but the .rodata constant is 1, so the branch that reads the packet without a bounds check is live
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 debug = 1;

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	if (debug) {
		__u8 *data = (void *)(long)ctx->data;

		return data[100];
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
