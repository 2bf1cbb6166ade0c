// prog-type: xdp
// why: reading .rodata configuration is allowed
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct config {
	__u8 mode;
	__u8 pad;
	__u16 port;
	__u32 limit;
	__u64 seed;
};

const volatile struct config cfg = { .mode = 1, .port = 80, .limit = 100, .seed = 7 };

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	return cfg.limit > 50 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
