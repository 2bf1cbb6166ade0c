// prog-type: xdp
// expect: null_deref
// why: a per-CPU hash lookup result is incremented without a null check
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} phash SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&phash, &key);
	*v += 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
