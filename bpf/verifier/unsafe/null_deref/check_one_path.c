// prog-type: xdp
// expect: null_deref
// why: the null check is on one path only
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
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&harr, &key);
	if (ctx->ingress_ifindex == 1) {
		if (!v)
			return 0;
	}
	return ((volatile struct val *)v)->a[2];
}

char _license[] SEC("license") = "GPL";
