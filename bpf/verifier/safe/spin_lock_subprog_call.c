// prog-type: xdp
// why: a bpf-to-bpf call inside the locked region (allowed since Linux 6.9; only helper calls are not)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} locked SEC(".maps");

static __attribute__((noinline)) int bump(struct val *v)
{
	v->count += 3;
	return 0;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&locked, &key);

	if (!v)
		return XDP_PASS;
	bpf_spin_lock(&v->lock);
	bump(v);
	bpf_spin_unlock(&v->lock);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
