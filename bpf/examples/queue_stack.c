/* Queue and stack maps from a program: each packet's length goes into a
 * 2-entry queue (BPF_EXIST: the oldest length is overwritten when full);
 * each packet needs a token popped from a stack the control plane fills,
 * and is dropped when none is left. last_peek records the token on top of
 * the stack after the pop (0 if empty). */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 2);
	__type(value, __u32);
} lens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} tokens SEC(".maps");

__u32 last_peek = 0;

SEC("xdp")
int queue_stack(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 tok, top;

	bpf_map_push_elem(&lens, &len, BPF_EXIST);
	if (bpf_map_pop_elem(&tokens, &tok) != 0)
		return XDP_DROP;
	if (bpf_map_peek_elem(&tokens, &top) != 0)
		top = 0;
	last_peek = top;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
