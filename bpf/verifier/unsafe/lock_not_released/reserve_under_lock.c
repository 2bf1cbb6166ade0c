// prog-type: xdp
// expect: lock_not_released
// why: ringbuf_reserve while holding the spin lock
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct val {
	struct bpf_spin_lock lock;
	__u64 count;
	__u64 other;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&locked, &key);

	if (!v)
		return XDP_PASS;
	bpf_spin_lock(&v->lock);
	__u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);
	bpf_spin_unlock(&v->lock);
	if (e) {
		*e = 1;
		bpf_ringbuf_submit(e, 0);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
