/* XDP_REDIRECT: `to_port` sends each packet out of the port that
 * `tx_ports` (a devmap) lists for its receive queue, passing it when the
 * slot is empty (the flags' low bits); `to_ifindex` redirects everything
 * to interface 7 with bpf_redirect. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

SEC("xdp")
int to_port(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_ports, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int to_ifindex(struct xdp_md *ctx)
{
	return bpf_redirect(7, 0);
}

char LICENSE[] SEC("license") = "GPL";
