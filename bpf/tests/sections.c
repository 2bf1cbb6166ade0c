/* One trivial program per section kind; two programs share "xdp". */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int xdp_one(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int xdp_two(struct xdp_md *ctx) { return XDP_DROP; }
SEC("xdp.frags") int xdp_frags_prog(struct xdp_md *ctx) { return XDP_PASS; }
SEC("tc") int tc_prog(struct __sk_buff *skb) { return 0; }
SEC("classifier") int classifier_prog(struct __sk_buff *skb) { return 0; }
SEC("tc/ingress") int tcx_ingress_prog(struct __sk_buff *skb) { return 0; }
SEC("socket") int socket_prog(struct __sk_buff *skb) { return 0; }
SEC("kprobe/do_unlinkat") int kprobe_prog(void *ctx) { return 0; }
SEC("kretprobe/do_unlinkat") int kretprobe_prog(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_openat") int tracepoint_prog(void *ctx) { return 0; }
SEC("tp/sched/sched_switch") int tp_prog(void *ctx) { return 0; }
SEC("raw_tracepoint/sched_switch") int raw_tp_prog(void *ctx) { return 0; }
SEC("cgroup_skb/ingress") int cgroup_skb_prog(struct __sk_buff *skb) { return 1; }
SEC("fentry/do_unlinkat") int fentry_prog(void *ctx) { return 0; }
SEC("oxbpf_unknown") int unknown_prog(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
