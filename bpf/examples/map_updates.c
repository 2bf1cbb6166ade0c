/* Map updates the JIT resolves when it compiles them (verified mode): it
 * calls the map's update directly instead of the helper. The packet's
 * payload after the Ethernet header is three u32s: key, flags and value.
 * The verdict is the helper's return value: 0 or a negative errno. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hashed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_hashed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

/* One program per map, so each update is a call of its own (clang merges
 * the calls of one function into one call after a join, where the map is
 * no longer certain). */
#define ARGS                                                                   \
	void *data = (void *)(long)ctx->data;                                  \
	void *end = (void *)(long)ctx->data_end;                               \
	__u32 *p = data + 14;                                                  \
	if ((void *)(p + 3) > end)                                             \
		return XDP_ABORTED;                                            \
	__u32 key = p[0];                                                      \
	__u64 flags = p[1];                                                    \
	__u64 val = p[2];

SEC("xdp")
int update_hash(struct xdp_md *ctx)
{
	ARGS
	return (__u32)bpf_map_update_elem(&hashed, &key, &val, flags);
}

SEC("xdp")
int update_lru(struct xdp_md *ctx)
{
	ARGS
	return (__u32)bpf_map_update_elem(&lru, &key, &val, flags);
}

SEC("xdp")
int update_pcpu(struct xdp_md *ctx)
{
	ARGS
	return (__u32)bpf_map_update_elem(&pcpu_hashed, &key, &val, flags);
}

SEC("xdp")
int update_arr(struct xdp_md *ctx)
{
	ARGS
	return (__u32)bpf_map_update_elem(&arr, &key, &val, flags);
}

/* The value handed to the update lies in the very element it replaces. */
SEC("xdp")
int update_from_itself(struct xdp_md *ctx)
{
	ARGS
	(void)val;
	__u64 *v = bpf_map_lookup_elem(&hashed, &key);
	if (!v)
		return 1000;
	return (__u32)bpf_map_update_elem(&hashed, &key, v, flags);
}

char LICENSE[] SEC("license") = "GPL";
