// prog-type: xdp
// expect: map_value_out_of_bounds
// why: a byte read at offset 16 of a 16-byte value
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
	return ((volatile __u8 *)v)[16];
}

char _license[] SEC("license") = "GPL";
