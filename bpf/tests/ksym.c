/* A .ksyms extern variable: the address of a kernel symbol. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym;

SEC("kprobe/do_unlinkat")
int ksym_prog(void *ctx)
{
	int active = 0;

	bpf_probe_read_kernel(&active, sizeof(active), &bpf_prog_active);
	return active;
}

char LICENSE[] SEC("license") = "GPL";
