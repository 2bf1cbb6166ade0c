// prog-type: xdp
// expect: helper_argument
// why: ringbuf_submit of a map value pointer, which was never reserved
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&arr, &key);

	if (!v)
		return XDP_PASS;
	bpf_ringbuf_submit(v, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
