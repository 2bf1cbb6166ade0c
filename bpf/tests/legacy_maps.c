/* Maps defined the pre-BTF way: struct bpf_map_def in the "maps" section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 64,
	.map_flags = 0,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 16,
	.max_entries = 10,
	.map_flags = BPF_F_RDONLY_PROG,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 key = skb->len;
	__u64 *v = bpf_map_lookup_elem(&legacy_hash, &key);
	__u32 k2 = 3;
	void *a = bpf_map_lookup_elem(&legacy_array, &k2);

	if (v && a)
		return 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
