/* One ring buffer record per packet: an event with the IPv4 addresses,
 * ports and length (reserve + submit), discarded for packets with TTL 1;
 * other ethertypes emit a 2-byte record with the ethertype
 * (bpf_ringbuf_output). Returns the bytes waiting in the ring, capped, so
 * a test can check bpf_ringbuf_query too: XDP_PASS always. */
#include "common.h"

struct event {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

__u64 avail_after = 0;

SEC("xdp")
int ringbuf_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct event *e;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		__be16 proto = eth->h_proto;
		bpf_ringbuf_output(&events, &proto, sizeof(proto), 0);
		goto out;
	}
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_PASS;
	e->saddr = ip->saddr;
	e->daddr = ip->daddr;
	e->sport = 0;
	e->dport = 0;
	e->len = data_end - data;
	__be16 *ports = (void *)(ip + 1);
	if ((void *)(ports + 2) <= data_end) {
		e->sport = ports[0];
		e->dport = ports[1];
	}
	if (ip->ttl == 1) {
		bpf_ringbuf_discard(e, 0);
		goto out;
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
out:
	avail_after = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
