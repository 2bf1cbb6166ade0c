// prog-type: xdp
// expect: readonly_write
// why: a 2-byte store into .rodata
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
	*(volatile __u16 *)&cfg.port = 443;
	return 0;
}

char _license[] SEC("license") = "GPL";
