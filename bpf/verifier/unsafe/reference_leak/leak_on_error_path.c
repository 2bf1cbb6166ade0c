// prog-type: xdp
// expect: reference_leak
// why: an early return for a full ring buffer forgets to discard the record already reserved
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

	if (!e)
		return XDP_PASS;
	if (bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > 2048)
		return XDP_DROP;
	*e = 7;
	bpf_ringbuf_discard(e, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
