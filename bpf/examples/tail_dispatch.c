/* Tail calls through a prog_array: `dispatch` parses IPv4 and jumps to the
 * handler for the layer-4 protocol through `jump_table` (slots filled by the
 * object itself: TCP and UDP); other protocols, or an empty slot, fall
 * through and pass. `chain` tail-calls itself through `chain_table` until
 * the limit of 33 tail calls stops it, counting its runs. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* hits[0]: tcp handler, [1]: udp handler, [2]: fell through, [3]: chain runs */
static __always_inline void hit(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &i);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	hit(0);
	return XDP_DROP;
}

SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	hit(1);
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 32);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = {
		[IPPROTO_TCP] = (void *)&handle_tcp,
		[IPPROTO_UDP] = (void *)&handle_udp,
	},
};

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	bpf_tail_call(ctx, &jump_table, ip->protocol);
	hit(2);
	return XDP_PASS;
}

SEC("xdp")
int chain(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} chain_table SEC(".maps") = {
	.values = { [0] = (void *)&chain },
};

SEC("xdp")
int chain(struct xdp_md *ctx)
{
	hit(3);
	bpf_tail_call(ctx, &chain_table, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
