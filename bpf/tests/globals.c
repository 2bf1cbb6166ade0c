/* Global data in every kind of data section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int packets = 3;                                   /* .data */
__u64 seen;                                        /* .bss */
static __u32 hidden;                               /* .bss, local symbol */
const volatile __u32 threshold = 100;              /* .rodata */
const volatile __u8 mode = 2;                      /* .rodata */
char greeting[8] SEC(".data.greet") = "hello";     /* .data.greet */
const volatile __u32 table[4] SEC(".rodata.table") = { 10, 20, 30, 40 };

__u32 _version SEC("version") = 0x050a00;

SEC("tc")
int globals_prog(struct __sk_buff *skb)
{
	const char *msg = "hi there";

	packets++;
	seen += skb->len;
	hidden ^= 1;
	greeting[0] = 'H';
	bpf_trace_printk(msg, 9);
	bpf_printk("n=%d", packets);  /* static format string in .rodata */
	if (skb->len > threshold)
		return table[mode & 3];
	return hidden + table[1];
}

char LICENSE[] SEC("license") = "GPL";
