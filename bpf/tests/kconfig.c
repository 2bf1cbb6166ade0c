/* A .kconfig extern, filled in by the loader from the kernel config. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("xdp")
int kconfig_prog(struct xdp_md *ctx)
{
	return LINUX_KERNEL_VERSION > 0x050a00 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
