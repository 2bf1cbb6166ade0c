// prog-type: sched_cls
// why: tc: bpf_skb_load_bytes copies the Ethernet header into a stack struct
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int prog(struct __sk_buff *skb)
{
	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return 0;
	skb->mark = eth.h_proto;
	return 0;
}

char _license[] SEC("license") = "GPL";
