// prog-type: xdp
// expect: reference_leak
// why: a bpf_loop callback reserves a record per iteration and never submits it (the kernel reports it at the main program's exit)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

static int cb(__u32 i, void *c)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return 0;
	*e = i;
	return 0;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	bpf_loop(4, cb, 0, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
