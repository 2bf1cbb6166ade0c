// prog-type: xdp
// why: bpf_map_update_elem and bpf_map_delete_elem with initialised key and value on the stack
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
	__u32 key = ctx->ingress_ifindex;
	__u64 val = 1;
	bpf_map_update_elem(&hash, &key, &val, BPF_NOEXIST);
	bpf_map_delete_elem(&hash, &key);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
