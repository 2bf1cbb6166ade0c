// prog-type: xdp
// why: main (128 bytes of stack) and f (112) call g, which tail calls: 240 bytes above it, under the kernel's 256
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

/* Tail calls from the innermost frame: main's and f's stack stay. */
static __attribute__((noinline)) int g(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return 1;
}

static __attribute__((noinline)) int f(struct xdp_md *ctx)
{
	volatile __u64 buf[14];

	for (int i = 0; i < 14; i++)
		buf[i] = i;
	return g(ctx) + buf[13];
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	volatile __u64 buf[16];

	for (int i = 0; i < 16; i++)
		buf[i] = i;
	return f(ctx) + g(ctx) + buf[15];
}

char _license[] SEC("license") = "GPL";
