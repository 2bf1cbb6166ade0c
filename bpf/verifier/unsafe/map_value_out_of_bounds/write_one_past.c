// prog-type: xdp
// expect: map_value_out_of_bounds
// why: a 4-byte write at offset 16 of a 16-byte value
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
	if (!v)
		return 0;
	((volatile __u32 *)v)[4] = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
