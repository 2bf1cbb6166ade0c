// prog-type: xdp
// why: two noinline subprograms: one takes the context, one a pointer into the caller stack; clang drops the unused return value of add_into, so that subprogram exits with r0 unset, which the kernel accepts
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __attribute__((noinline)) int ifindex_of(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

static __attribute__((noinline)) int add_into(__u32 *acc, int x)
{
	*acc += x;
	return *acc;
}

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 acc = 1;
	add_into(&acc, ifindex_of(ctx));
	return acc == 0 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
