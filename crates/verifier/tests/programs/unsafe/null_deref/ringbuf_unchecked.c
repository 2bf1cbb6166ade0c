// prog-type: sched_cls
// expect: null_deref
// why: the ring buffer reservation may fail and is used without a null check
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
struct ev { __u32 len; __u32 mark; __u8 head[16]; };
SEC("tc")
int tc_ringbuf(struct __sk_buff *skb)
{
	struct ev *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	
	e->len = skb->len;
	e->mark = skb->mark;
	if (bpf_skb_load_bytes(skb, 0, e->head, sizeof(e->head)) < 0) {
		bpf_ringbuf_discard(e, 0);
		return TC_ACT_OK;
	}
	bpf_ringbuf_submit(e, 0);
	return TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
