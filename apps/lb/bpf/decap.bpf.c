/* Backend-side decapsulation for the load balancer's direct server return
 * (issue 11), for hosts whose kernel has no ipip/ip6tnl devices
 * (CONFIG_NET_IPIP / CONFIG_IPV6_TUNNEL off, as on the machine the
 * end-to-end test runs on). Attached to the backend's receiving
 * interface, it strips the outer IPv4 header of IPIP (protocol 4) and
 * IPv6-in-IPv4 (protocol 41) packets, and the outer IPv4 and UDP headers
 * of GUE variant 1 packets (UDP to LB_GUE_PORT whose payload is an IPv4 or
 * IPv6 packet, told apart by its version nibble), and passes the inner
 * packet to the stack, which delivers it because the VIP is a local
 * address (on lo). Everything else passes untouched.
 *
 * Only an outer header without options is stripped (the balancer never
 * adds options); the Ethernet header is moved forward over it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The balancer's `gue_port` (its default). */
#ifndef LB_GUE_PORT
#define LB_GUE_PORT 6080
#endif

SEC("xdp")
int decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *outer = (void *)(eth + 1);
	struct ethhdr copy;
	__u16 inner_proto;
	int strip = (int)sizeof(struct iphdr);

	if ((void *)(outer + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || outer->ihl != 5)
		return XDP_PASS;
	switch (outer->protocol) {
#ifndef LB_DECAP_GUE_ONLY
	/* (-DLB_DECAP_GUE_ONLY builds a GUE-only variant, with which a test
	 * proves the balancer really encapsulated in GUE.) */
	case IPPROTO_IPIP:
		inner_proto = bpf_htons(ETH_P_IP);
		break;
	case IPPROTO_IPV6:
		inner_proto = bpf_htons(ETH_P_IPV6);
		break;
#endif
	case IPPROTO_UDP: {
		struct udphdr *uh = (void *)(outer + 1);
		__u8 *version = (void *)(uh + 1);

		if ((void *)(version + 1) > data_end || uh->dest != bpf_htons(LB_GUE_PORT))
			return XDP_PASS;
		/* GUE variant 1: the UDP payload is the inner IP packet. */
		if (*version >> 4 == 4)
			inner_proto = bpf_htons(ETH_P_IP);
		else if (*version >> 4 == 6)
			inner_proto = bpf_htons(ETH_P_IPV6);
		else
			return XDP_PASS;
		strip += (int)sizeof(struct udphdr);
		break;
	}
	default:
		return XDP_PASS;
	}
	__builtin_memcpy(&copy, eth, sizeof(copy));
	copy.h_proto = inner_proto;
	if (bpf_xdp_adjust_head(ctx, strip))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth, &copy, sizeof(copy));
	return XDP_PASS;
}


/* Passes every packet. Attached natively to the router's end of the load
 * balancer's veth, it turns on that veth's NAPI receive path, which a veth
 * peer needs to accept the balancer's native-mode XDP_TX (veth_xdp_xmit
 * drops frames for a peer without it). */
SEC("xdp")
int pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
