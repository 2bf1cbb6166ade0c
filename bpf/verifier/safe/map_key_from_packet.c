// prog-type: xdp
// why: a map key read from checked packet bytes into the stack
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 4 > end)
		return XDP_PASS;
	__u32 key = *(__u32 *)data;
	__u64 *v = bpf_map_lookup_elem(&hash, &key);
	return v && *v ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
