// prog-type: xdp
// expect: map_value_out_of_bounds
// why: as safe/rodata_index.c, but the frozen .rodata index is 4, one past the 4-element map value
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 slot = 4;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[4]);
} counters SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (!v)
		return XDP_PASS;
	v[slot] += 1;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
