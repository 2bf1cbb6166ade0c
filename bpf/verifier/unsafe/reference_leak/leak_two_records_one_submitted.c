// prog-type: sched_cls
// expect: reference_leak
// why: two records are reserved, only the first is submitted
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("tc")
int prog(struct __sk_buff *skb)
{
	__u64 *a = bpf_ringbuf_reserve(&rb, 8, 0);
	__u64 *b;

	if (!a)
		return 0;
	b = bpf_ringbuf_reserve(&rb, 8, 0);
	*a = skb->len;
	bpf_ringbuf_submit(a, 0);
	if (!b)
		return 0;
	*b = skb->protocol;
	return 0;
}

char _license[] SEC("license") = "GPL";
