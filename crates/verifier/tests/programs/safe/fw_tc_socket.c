// prog-type: xdp
// why: LPM deny list, atomic fetch-add on a map value, stack array loop, bpf_loop callback with lookups, tail call; tc: pull_data, csum/store_bytes then reload; socket: skb_load_bytes
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct lpm_key { __u32 prefixlen; __u32 addr; };
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 64); __type(key, struct lpm_key); __type(value, __u32); __uint(map_flags, BPF_F_NO_PREALLOC); } deny SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); } jmp SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } stats SEC(".maps");
struct cbctx { __u32 sum; };
static long add_stat(__u32 i, struct cbctx *c) {
	__u32 k = i & 3;
	__u64 *v = bpf_map_lookup_elem(&stats, &k);
	if (v) c->sum += *v;
	return 0;
}
SEC("xdp")
int fw(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end) return XDP_PASS;
	struct lpm_key k = { .prefixlen = 32, .addr = ip->saddr };
	if (bpf_map_lookup_elem(&deny, &k)) return XDP_DROP;
	__u32 idx = ip->protocol == IPPROTO_TCP ? 0 : 1;
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v) { __u64 old = __sync_fetch_and_add(v, 1); if (old > 1000000) return XDP_DROP; }
	__u32 words[4] = { ip->saddr, ip->daddr, ip->id, ip->tot_len };
	__u32 h = 0;
	for (int i = 0; i < 4; i++) h ^= words[i] * 31;
	struct cbctx c = { .sum = h };
	bpf_loop(4, add_stat, &c, 0);
	bpf_tail_call(ctx, &jmp, c.sum & 1);
	return XDP_PASS;
}
SEC("tc")
int tcfix(struct __sk_buff *skb)
{
	if (bpf_skb_pull_data(skb, 34) < 0) return TC_ACT_OK;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + 14;
	if ((void *)(ip + 1) > end) return TC_ACT_OK;
	__u8 old_tos = ip->tos, new_tos = 0x10;
	bpf_l3_csum_replace(skb, 14 + __builtin_offsetof(struct iphdr, check), bpf_htons(old_tos), bpf_htons(new_tos), 2);
	bpf_skb_store_bytes(skb, 14 + __builtin_offsetof(struct iphdr, tos), &new_tos, 1, 0);
	data = (void *)(long)skb->data; end = (void *)(long)skb->data_end;
	ip = data + 14;
	if ((void *)(ip + 1) > end) return TC_ACT_SHOT;
	return ip->tos == 0x10 ? TC_ACT_OK : TC_ACT_SHOT;
}
SEC("socket")
int sock(struct __sk_buff *skb)
{
	__u8 buf[20];
	if (bpf_skb_load_bytes(skb, 14, buf, sizeof(buf)) < 0) return 0;
	return (buf[0] >> 4) == 4 ? skb->len : 0;
}
char LICENSE[] SEC("license") = "GPL";
