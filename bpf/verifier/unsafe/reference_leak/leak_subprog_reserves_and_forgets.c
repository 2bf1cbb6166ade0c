// prog-type: xdp
// expect: reference_leak
// why: a subprogram reserves a record and returns a number; the reference outlives its frame and leaks at the program's exit
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

static __attribute__((noinline)) int note(__u32 v)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return 0;
	*e = v;
	return 1;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	return note(ctx->rx_queue_index) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
