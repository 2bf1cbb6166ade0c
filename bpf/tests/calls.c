/* bpf-to-bpf calls: static and global functions in .text shared by two
 * programs, nested calls, and a callback passed to bpf_loop. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int leaf(int x)
{
	return x * 7 + 1;
}

__attribute__((noinline)) int middle(int x)
{
	return leaf(x) + leaf(x + 1);
}

static __attribute__((noinline)) int other(int x)
{
	return x ^ 0x55;
}

static long add_index(__u32 i, void *ctx)
{
	*(int *)ctx += i;
	return 0;
}

SEC("xdp")
int first(struct xdp_md *ctx)
{
	return middle(ctx->ingress_ifindex) & 3;
}

SEC("xdp")
int second(struct xdp_md *ctx)
{
	int n = other(ctx->rx_queue_index);

	return (leaf(n) + middle(n)) & 3;
}

SEC("tc")
int with_loop(struct __sk_buff *skb)
{
	int sum = 0;

	bpf_loop(4, add_index, &sum, 0);
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
