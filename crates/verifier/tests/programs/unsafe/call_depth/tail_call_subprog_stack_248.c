// prog-type: xdp
// expect: call_depth
// why: a subprogram tail calls while its caller uses 248 bytes of stack, 256 rounded to 16 (Linux 6.18: "tail_calls are not allowed when call stack of previous frames is 256 bytes. Too large")
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
	volatile __u64 buf[31];

	for (int i = 0; i < 31; i++)
		buf[i] = i;
	return jump(ctx) + buf[30];
}

char _license[] SEC("license") = "GPL";
