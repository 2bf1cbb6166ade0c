/* Map lookups the JIT resolves when it compiles them (verified mode):
 * array and percpu_array lookups it inlines, a hash lookup it calls
 * directly. The index is the packet's first 4 payload bytes after the
 * Ethernet header; every value found is counted; the verdict says which
 * lookups found a value. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hashed SEC(".maps");

SEC("xdp")
int map_lookups(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *p = data + 14;
	if ((void *)(p + 1) > end)
		return XDP_ABORTED;
	__u32 idx = *p;
	int found = 0;
	__u64 *v = bpf_map_lookup_elem(&arr, &idx);
	if (v) {
		*v += 1;
		found |= 1;
	}
	v = bpf_map_lookup_elem(&pcpu, &idx);
	if (v) {
		*v += 1;
		found |= 2;
	}
	v = bpf_map_lookup_elem(&hashed, &idx);
	if (v) {
		*v += 1;
		found |= 4;
	}
	/* 8 + found: a verdict no XDP action uses, so every combination shows. */
	return 8 + found;
}

char LICENSE[] SEC("license") = "GPL";
