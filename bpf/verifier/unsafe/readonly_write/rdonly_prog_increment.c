// prog-type: xdp
// expect: readonly_write
// why: a read-modify-write of a BPF_F_RDONLY_PROG map value
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u64);
} ro SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&ro, &key);
	if (!v)
		return 0;
	*(volatile __u64 *)v += 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
