// prog-type: xdp
// profile: privileged — unprivileged, the kernel forbids adding a variable offset to a packet pointer (Spectre v1 mitigation)
// why: a loop with a constant trip count summing checked packet bytes
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 sum = 0;
	for (int i = 0; i < 32; i++) {
		__u8 *b = data + i;
		if ((void *)(b + 1) > end)
			break;
		sum += *b;
	}
	return sum & 1 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
