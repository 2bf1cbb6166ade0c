/* The cheapest XDP program: drop everything. Benchmarks the hook itself. */
#include "../examples/common.h"

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
