// prog-type: xdp
// why: the record is submitted before the tail call, so nothing is held when it happens
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (e) {
		*e = 1;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_tail_call(ctx, &jumps, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
