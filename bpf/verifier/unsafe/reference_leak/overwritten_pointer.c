// prog-type: xdp
// expect: reference_leak
// why: the variable holding the first record is overwritten by a second reservation; only the second is submitted
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 *e = bpf_ringbuf_reserve(&rb, 8, 0);
	__u32 *f;

	if (!e)
		return XDP_PASS;
	*e = 1;
	f = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!f)
		return XDP_PASS;
	*f = 2;
	bpf_ringbuf_submit(f, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
