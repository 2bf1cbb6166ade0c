// prog-type: xdp
// expect: lock_not_released
// why: the lock of key 0's value is taken and key 1's released: another lookup of the same map is another lock
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} locked SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 k0 = 0, k1 = 1;
	struct val *v = bpf_map_lookup_elem(&locked, &k0);
	struct val *w = bpf_map_lookup_elem(&locked, &k1);

	if (!v || !w)
		return XDP_PASS;
	bpf_spin_lock(&v->lock);
	v->count++;
	bpf_spin_unlock(&w->lock);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
