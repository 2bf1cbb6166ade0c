// prog-type: xdp
// why: packet and map value pointers kept in volatile stack slots and reloaded before use
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
	unsigned char *volatile pkt = data;
	if ((void *)(pkt + 14) > end)
		return XDP_PASS;
	__u32 key = 0;
	__u64 *volatile v = bpf_map_lookup_elem(&hash, &key);
	__u64 *w = v;
	if (!w)
		return XDP_PASS;
	unsigned char *p = pkt;
	if ((void *)(p + 14) > end)
		return XDP_PASS;
	*w += p[13];
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
