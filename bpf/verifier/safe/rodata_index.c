// prog-type: xdp
// why: `slot` is a frozen .rodata constant (3), so indexing a 4-element map value with it is in bounds; without its value the index would be any u32
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 slot = 3;

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
