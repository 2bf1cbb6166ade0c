// prog-type: xdp
// expect: map_value_out_of_bounds
// why: a 32-bit index scaled by 4 (up to 2^34) is added to a map value pointer with no bound, so the access may land anywhere up to 2^34 bytes past the value (the kernel: unbounded memory access)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	__u32 a[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} arr SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&arr, &key);
	__u32 i = ctx->rx_queue_index;
	if (!v)
		return 0;
	return v->a[i];
}

char _license[] SEC("license") = "GPL";
