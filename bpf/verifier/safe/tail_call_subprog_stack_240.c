// prog-type: xdp
// why: a subprogram tail calls while its caller uses 240 bytes of stack, under the kernel's 256
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

/* A subprogram that tail calls: the frames above it stay on the stack. */
static __attribute__((noinline)) int jump(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return 1;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	volatile __u64 buf[30];

	for (int i = 0; i < 30; i++)
		buf[i] = i;
	return jump(ctx) + buf[29];
}

char _license[] SEC("license") = "GPL";
