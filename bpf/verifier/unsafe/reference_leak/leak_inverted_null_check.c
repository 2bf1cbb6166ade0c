// prog-type: xdp
// expect: reference_leak
// why: the null check is the wrong way round: the non-null record returns without submit, only the null branch 'submits' nothing
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

	if (e)
		return XDP_PASS;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
