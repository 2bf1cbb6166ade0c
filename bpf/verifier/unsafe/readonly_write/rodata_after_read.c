// prog-type: xdp
// expect: readonly_write
// why: a .rodata value read then written back changed
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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
	__u32 l = cfg.limit;
	*(volatile __u32 *)&cfg.limit = l + 1;
	return l;
}

char _license[] SEC("license") = "GPL";
