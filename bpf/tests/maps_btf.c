/* BTF-defined maps of several kinds, used by one XDP program. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 8);
} stats_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow);
	__type(value, __u64);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

/* Sizes only, no BTF key/value types. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(max_entries, 4);
} pcpu_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u64);
	__type(value, __u32);
	__uint(max_entries, 256);
} pcpu_hash SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

SEC("xdp")
int tail_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

SEC("xdp")
int use_maps(struct xdp_md *ctx)
{
	__u32 idx = ctx->rx_queue_index & 7;
	struct flow f = { .saddr = 1, .daddr = 2, .sport = 3, .dport = 4, .proto = 6 };
	__u64 one = 1, key64 = ctx->ingress_ifindex;
	__u32 k0 = 0;
	struct stats *s;
	__u64 *c;
	void *inner;

	s = bpf_map_lookup_elem(&stats_array, &idx);
	if (s)
		s->packets++;
	bpf_map_update_elem(&flows, &f, &one, BPF_ANY);
	c = bpf_map_lookup_elem(&pcpu_counts, &k0);
	if (c)
		(*c)++;
	bpf_map_update_elem(&pcpu_hash, &key64, &k0, BPF_NOEXIST);
	inner = bpf_map_lookup_elem(&outer, &k0);
	if (inner)
		bpf_map_lookup_elem(inner, &k0);
	bpf_tail_call(ctx, &jumps, 1);
	return XDP_PASS;
}

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
