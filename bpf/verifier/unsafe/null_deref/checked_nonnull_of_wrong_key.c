// prog-type: xdp
// expect: null_deref
// why: the result for key 1 is used where only key 0 was checked
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	__u32 a[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} harr SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 k0 = 0, k1 = 1;
	struct val *v = bpf_map_lookup_elem(&harr, &k0);
	struct val *w = bpf_map_lookup_elem(&harr, &k1);
	if (!v)
		return 0;
	return v->a[0] + ((volatile struct val *)w)->a[0];
}

char _license[] SEC("license") = "GPL";
