/* A CO-RE field access: clang records it in .BTF.ext for the loader to
 * relocate against kernel BTF, which oxbpf does not do. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_like {
	int pid;
	int tgid;
};

SEC("kprobe/do_unlinkat")
int core_prog(void *ctx)
{
	struct task_like *t = (void *)bpf_get_current_task();
	int tgid = 0;

	bpf_probe_read_kernel(&tgid, sizeof(tgid), __builtin_preserve_access_index(&t->tgid));
	return tgid;
}

char LICENSE[] SEC("license") = "GPL";
