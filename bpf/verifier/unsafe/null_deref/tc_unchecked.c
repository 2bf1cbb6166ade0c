// prog-type: sched_cls
// expect: null_deref
// why: tc: the lookup result is read without a null check
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

SEC("tc")
int prog(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hash, &key);
	return *v;
}

char _license[] SEC("license") = "GPL";
