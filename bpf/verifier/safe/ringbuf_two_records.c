// prog-type: sched_cls
// why: two records held at once, each submitted or discarded on every path
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
	b = bpf_ringbuf_reserve(&rb, 16, 0);
	if (!b) {
		bpf_ringbuf_discard(a, 0);
		return 0;
	}
	*a = skb->len;
	b[0] = skb->protocol;
	b[1] = skb->mark;
	bpf_ringbuf_submit(b, 0);
	bpf_ringbuf_submit(a, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
