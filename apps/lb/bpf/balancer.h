/* Map layouts and constants of the oxbpf load balancer datapath. The Rust
 * control plane mirrors every struct here in apps/lb/src/abi.rs; keep the
 * two in step (sizes are checked by the Rust tests against the object's
 * BTF-free map sizes). Addresses are stored in network byte order as they
 * appear on the wire; scalar configuration fields in host order. */
#ifndef OXBPF_LB_BALANCER_H
#define OXBPF_LB_BALANCER_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef LB_RING_SIZE
#define LB_RING_SIZE 65537
#endif
#ifndef LB_MAX_VIPS
#define LB_MAX_VIPS 16
#endif
#ifndef LB_MAX_BACKENDS
#define LB_MAX_BACKENDS 4096
#endif
#ifndef LB_MAX_QUIC_SERVERS
#define LB_MAX_QUIC_SERVERS 4096
#endif
#ifndef LB_CONN_ENTRIES
#define LB_CONN_ENTRIES 65536
#endif
/* Seed of the flow hash (apps/lb/src/flow.rs uses the same). */
#define LB_HASH_SEED 0x6f78626cu
#define LB_DEFAULT_TTL 64

/* vip_meta.flags */
#define F_ALL_PORTS (1u << 0) /* the VIP matches every destination port */
#define F_SRC_ONLY (1u << 1)  /* hash only the source address */
#define F_QUIC (1u << 2)      /* route UDP by the QUIC server id when present */

/* backend.flags */
#define B_IPV6 (1u << 0)

/* lb_ctl.flags */
#define C_GUE (1u << 0) /* encapsulate in GUE (UDP) instead of IPIP/IP6IP6 */

/* Indices of the per-CPU `counters` array. */
enum lb_counter {
	CNT_CONN_LOCAL_HIT = 0,
	CNT_CONN_SHARED_HIT = 1,
	CNT_CONN_MISS = 2,
	CNT_CONN_RECORDED = 3,
	CNT_RATE_LIMITED = 4,
	CNT_RST_NOT_RECORDED = 5,
	CNT_QUIC_ROUTED = 6,
	CNT_QUIC_FALLBACK = 7,
	CNT_ICMP_ECHO = 8,
	CNT_ICMP_TOO_BIG = 9,
	CNT_PASS_NON_VIP = 10,
	CNT_DROP_MALFORMED = 11,
	CNT_DROP_IP_OPTIONS = 12,
	CNT_DROP_FRAGMENT = 13,
	CNT_DROP_NO_BACKEND = 14,
	CNT_DROP_ENCAP = 15,
	CNT_MAX = 16,
};

/* A VIP: address (IPv4 in addr[0], the rest zero), destination port in
 * network order (0 for an all-ports VIP), protocol, family. */
struct vip_key {
	__u32 addr[4];
	__u16 port;
	__u8 proto;
	__u8 is_v6;
};

struct vip_meta {
	__u32 flags;
	__u32 vip_num; /* index of the VIP's ring and counters */
};

/* An address that belongs to some VIP (answers ICMP echo). */
struct vip_addr {
	__u32 addr[4];
	__u32 is_v6;
};

struct backend {
	__u32 addr[4]; /* IPv4 in addr[0] */
	__u32 flags;
};

/* Global configuration (one element of `ctl`). */
struct lb_ctl {
	__u8 nexthop_mac[6];
	__u16 gue_port;        /* host order */
	__u32 src4;            /* outer IPv4 source base; its low 16 bits come from the flow hash */
	__u32 src6[4];         /* outer IPv6 source base; its last 32 bits come from the flow hash */
	__u32 max_new_per_sec; /* new flows recorded per CPU per second; 0 = no limit */
	__u32 flags;
};

/* The connection tables' key: the client->VIP 5-tuple as on the wire. */
struct flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct conn {
	__u32 backend;
	__u32 pad;
};

/* A "new connection" is a packet of a VIP flow found in neither
 * connection table whose backend was picked from the VIP's ring and whose
 * flow was then recorded in the tables (the event CNT_CONN_RECORDED counts
 * globally). Ring picks that are not recorded (a TCP RST, an ICMP error
 * about a flow, a flow over the per-CPU rate guard) and QUIC packets
 * routed by server id are not new connections. Every counter here counts
 * forwarded packets only (drops are in `counters`). */

/* Per backend (`backend_stats`, indexed by backend id; over every VIP the
 * backend serves). */
struct lb_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns; /* new connections sent to this backend */
};

/* Per VIP (`vip_stats`, indexed by vip_num). */
struct lb_vip_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;   /* new connections to this VIP */
	__u64 conn_hits;   /* packets whose flow was in a connection table */
	__u64 conn_misses; /* packets whose backend came from the ring */
};

struct rate_guard {
	__u64 window_ns;
	__u64 count;
};

#endif
