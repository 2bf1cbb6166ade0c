// prog-type: xdp
// expect: map_value_out_of_bounds
// why: a write at offset 8 of an 8-byte per-CPU value
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&pcpu, &key);
	if (!v)
		return 0;
	((volatile __u64 *)v)[1] = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
