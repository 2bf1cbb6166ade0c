// prog-type: xdp
// expect: pointer_leak
// profile: strict
// why: the context pointer is stored into a map value
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hash, &key);
	if (!v)
		return 0;
	*v = (__u64)(long)ctx;
	return 0;
}

char _license[] SEC("license") = "GPL";
