// prog-type: xdp
// expect: readonly_write
// why: a store into .rodata, which programs may only read (BPF_F_RDONLY_PROG)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static const volatile __u32 limits[4] = {1, 2, 3, 4};
SEC("xdp")
int rodata_store(struct xdp_md *ctx)
{
	((volatile __u32 *)limits)[1] = ctx->rx_queue_index;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
