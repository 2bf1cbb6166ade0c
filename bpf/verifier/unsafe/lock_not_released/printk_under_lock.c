// prog-type: sched_cls
// expect: lock_not_released
// why: bpf_trace_printk inside the locked region of a tc program
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct val {
	struct bpf_spin_lock lock;
	__u64 count;
	__u64 other;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} locked SEC(".maps");

SEC("tc")
int prog(struct __sk_buff *skb)
{
	char fmt[] = "n %d";
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&locked, &key);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->count++;
	bpf_trace_printk(fmt, sizeof(fmt), v->count);
	bpf_spin_unlock(&v->lock);
	return 0;
}

char _license[] SEC("license") = "GPL";
