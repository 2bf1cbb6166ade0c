/* bpf_loop with a callback: sums the squares of the indexes until the
 * callback stops the loop, and records what bpf_loop returned for a
 * stopped loop, a full loop, bad flags and too many iterations in
 * `results`. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 6);
	__type(key, __u32);
	__type(value, __s64);
} results SEC(".maps");

struct loop_ctx {
	__u64 sum;
	__u64 stop_at;
};

static long step(__u64 i, void *data)
{
	struct loop_ctx *c = data;

	if (i == c->stop_at)
		return 1;
	c->sum += i * i;
	return 0;
}

static __always_inline void put(__u32 k, __s64 v)
{
	bpf_map_update_elem(&results, &k, &v, BPF_ANY);
}

SEC("xdp")
int squares(struct xdp_md *ctx)
{
	struct loop_ctx stopped = { .sum = 0, .stop_at = 7 };
	struct loop_ctx full = { .sum = 0, .stop_at = 100 };
	long n;

	n = bpf_loop(10, step, &stopped, 0);
	put(0, stopped.sum);
	put(1, n);
	n = bpf_loop(5, step, &full, 0);
	put(2, full.sum);
	put(3, n);
	put(4, bpf_loop(1, step, &full, 1));
	put(5, bpf_loop((1 << 23) + 1, step, &full, 0));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
