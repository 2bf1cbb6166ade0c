// prog-type: xdp
// why: a map key struct with padding initialised with = {}, then inserted with bpf_map_update_elem
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct key {
	__u8 proto;
	/* 3 bytes of padding */
	__u32 addr;
	__u16 port;
	/* 6 bytes of padding */
	__u64 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct key);
	__type(value, __u64);
} flows SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	struct key k = {};
	k.proto = 6;
	k.port = 80;
	__u64 one = 1;
	bpf_map_update_elem(&flows, &k, &one, BPF_ANY);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
