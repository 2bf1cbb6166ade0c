// prog-type: xdp
// why: a map key struct with padding, zeroed with __builtin_memset before the fields are set, so every key byte is initialised
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
	struct key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.proto = 17;
	k.addr = ctx->ingress_ifindex;
	k.port = 53;
	__u64 *n = bpf_map_lookup_elem(&flows, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
