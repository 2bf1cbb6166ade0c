// prog-type: xdp
// why: a TCP options walk of up to 10 iterations with four outcomes each (the kernel needs 804K processed instructions), .rodata bound, bpf_loop, tail call
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
__u32 mss_seen = 0;
const volatile __u32 max_opts = 10;
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } jt SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } cnt SEC(".maps");
struct lctx { __u64 sum; __u8 *base; };
static long cb(__u32 i, void *c) { struct lctx *l = c; l->sum += i; return l->sum > 100; }
SEC("xdp")
int tcpopt(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end) return XDP_PASS;
	if (ip->protocol != IPPROTO_TCP || ip->ihl != 5) return XDP_PASS;
	struct tcphdr *tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > end) return XDP_PASS;
	__u8 *opt = (__u8 *)(tcp + 1);
	int i;
#pragma clang loop unroll(disable)
	for (i = 0; i < 10 && i < max_opts; i++) {
		if ((void *)(opt + 1) > end) break;
		__u8 kind = *opt;
		if (kind == 0) break;
		if (kind == 1) { opt++; continue; }
		if ((void *)(opt + 2) > end) break;
		__u8 len = opt[1];
		if (len < 2) break;
		if (kind == 2 && len == 4 && (void *)(opt + 4) <= end) mss_seen = (opt[2] << 8) | opt[3];
		opt += len;
	}
	struct lctx l = { .sum = 0 };
	bpf_loop(20, cb, &l, 0);
	__u32 z = 0;
	__u64 *c = bpf_map_lookup_elem(&cnt, &z);
	if (c) *c += l.sum;
	bpf_tail_call(ctx, &jt, 1);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
