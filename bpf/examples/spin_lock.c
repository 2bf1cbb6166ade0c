/* A counter guarded by a bpf_spin_lock in the map value: the increments
 * are plain read-modify-writes, so only the lock keeps parallel runs from
 * losing updates. `total` and `twice` must stay in step. */
#include "common.h"

struct counter {
	struct bpf_spin_lock lock;
	__u64 total;
	__u64 twice;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

SEC("xdp")
int locked_count(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);
	__u64 t;

	if (!c)
		return XDP_ABORTED;
	bpf_spin_lock(&c->lock);
	t = c->total;
	/* Keep the read and the write apart so that without the lock another
	 * run would slip in between. */
	c->twice = c->twice + 2;
	c->total = t + 1;
	bpf_spin_unlock(&c->lock);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
