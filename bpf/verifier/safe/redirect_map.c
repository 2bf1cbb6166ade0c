// prog-type: xdp
// why: bpf_redirect_map with a devmap and a key from the context
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	return bpf_redirect_map(&ports, ctx->ingress_ifindex & 7, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
