// prog-type: xdp
// why: the record survives a helper call in a stack slot and is submitted on both paths
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
	__u64 *volatile slot;
	__u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return XDP_PASS;
	slot = e;
	__u64 t = bpf_ktime_get_ns();
	e = slot;
	*e = t;
	if (t & 1) {
		bpf_ringbuf_discard(e, 0);
		return XDP_PASS;
	}
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
