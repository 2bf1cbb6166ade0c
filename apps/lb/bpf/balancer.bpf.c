/* oxbpf load balancer datapath (issue 10): a layer-4 XDP balancer with
 * direct server return, in the manner of Katran but written for oxbpf.
 *
 * Per packet: parse Ethernet (one optional 802.1Q/802.1ad tag), IPv4 (no
 * options, no fragments) or IPv6 (no fragment header), then TCP, UDP or
 * ICMP/ICMPv6. A packet to a VIP (address, port, protocol; or an all-ports
 * VIP) is sent to one backend: the connection tables first (a per-CPU LRU,
 * then the shared LRU for flows that moved CPU), else the VIP's Maglev ring
 * at `vip_num * LB_RING_SIZE + hash % LB_RING_SIZE`; the flow is recorded
 * unless it is a TCP RST or the per-CPU new-connection guard is exceeded.
 * The packet is encapsulated (IPIP, IPv6-in-IPv4, IPv4-in-IPv6, IP6IP6 by
 * the families, or GUE variant 1 over UDP when configured) with an outer
 * source derived from the flow hash, the MACs are rewritten to the next
 * hop, and it leaves with XDP_TX. Everything else passes.
 *
 * ICMP echo requests to a VIP address are answered in place. ICMP
 * "fragmentation needed" and ICMPv6 "packet too big" quoting a packet from
 * a VIP are forwarded to the backend that owns the quoted flow.
 *
 * QUIC (VIPs with F_QUIC): the destination connection id (byte 6 on of a
 * long header, byte 1 on of a short header) carries a server id when its
 * first byte's top two bits are 01: server id = DCID[1] << 8 | DCID[2],
 * looked up in `quic_servers`. A zero entry or another first byte falls
 * back to the connection table and the ring. */
#include "balancer.h"

/* linux/icmp.h pulls in libc socket headers; the fixed part is enough. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_ECHO 8
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#define IPPROTO_ICMPV6_ 58
#define NEXTHDR_FRAGMENT 44

#ifdef LB_NO_LRU
/* For engines without LRU maps: same layouts, plain hash tables. */
#define CONN_LOCAL_TYPE BPF_MAP_TYPE_PERCPU_HASH
#define CONN_SHARED_TYPE BPF_MAP_TYPE_HASH
#else
#define CONN_LOCAL_TYPE BPF_MAP_TYPE_LRU_PERCPU_HASH
#define CONN_SHARED_TYPE BPF_MAP_TYPE_LRU_HASH
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct vip_key);
	__type(value, struct vip_meta);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, struct vip_addr);
	__type(value, __u32);
} vip_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS * LB_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_ctl);
} ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_QUIC_SERVERS);
	__type(key, __u32);
	__type(value, __u32);
} quic_servers SEC(".maps");

struct {
	__uint(type, CONN_LOCAL_TYPE);
	__uint(max_entries, LB_CONN_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct conn);
} conn_local SEC(".maps");

struct {
	__uint(type, CONN_SHARED_TYPE);
	__uint(max_entries, LB_CONN_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct conn);
} conn_shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_vip_stats);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_stats);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_guard);
} rate SEC(".maps");

/* What the parser found. */
struct pkt {
	struct flow_key fk;
	__u32 l3off;     /* 14, or 18 behind a VLAN tag */
	__u32 inner_len; /* the IP packet's length from its header */
	__u32 bytes;     /* frame length, for the counters */
	__u8 is_v6;
	__u8 tos;
	__u8 tcp_flags;
	__u8 icmp_kind; /* 0: not ICMP, 1: echo request, 2: too big, 3: other */
	__u8 dcid[3];   /* first DCID bytes (QUIC), valid if has_dcid */
	__u8 has_dcid;
};

#define ICMP_KIND_ECHO 1
#define ICMP_KIND_TOO_BIG 2
#define ICMP_KIND_OTHER 3

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}


static __always_inline __u32 rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* One MurmurHash3 (x86_32) block step; the Rust twin is flow::mix. */
static __always_inline __u32 hmix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static __always_inline __u32 hfinal(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The flow hash: source address words, then (unless src_only) destination
 * words and the ports word (sport | dport << 16, both as loaded from the
 * wire on a little-endian host), then the protocol. */
static __always_inline __u32 flow_hash(const struct flow_key *fk, int src_only)
{
	__u32 h = LB_HASH_SEED;
	h = hmix(h, fk->src[0]);
	h = hmix(h, fk->src[1]);
	h = hmix(h, fk->src[2]);
	h = hmix(h, fk->src[3]);
	if (!src_only) {
		h = hmix(h, fk->dst[0]);
		h = hmix(h, fk->dst[1]);
		h = hmix(h, fk->dst[2]);
		h = hmix(h, fk->dst[3]);
		h = hmix(h, (__u32)fk->sport | ((__u32)fk->dport << 16));
	}
	h = hmix(h, fk->proto);
	return hfinal(h);
}

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* RFC 1071 checksum of a 20-byte IPv4 header (check field zero). */
static __always_inline __u16 ipv4_csum(const void *hdr)
{
	const __u16 *p = hdr;
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		s += p[i];
	return csum_fold(s);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
static __always_inline __u16 csum_replace(__u16 check, __u16 old, __u16 new)
{
	__u32 s = (__u16)~check;
	s += (__u16)~old;
	s += new;
	return csum_fold(s);
}

/* Parses the quoted header of an ICMP error (the packet the VIP sent) into
 * the client->VIP flow key it belongs to. Returns 0 on success. */
static __always_inline int parse_quoted(void *q, void *data_end, int v6, struct flow_key *fk)
{
	__u16 *ports;
	if (!v6) {
		struct iphdr *ip = q;
		if ((void *)(ip + 1) > data_end || ip->ihl != 5)
			return -1;
		ports = (void *)(ip + 1);
		if ((void *)(ports + 2) > data_end)
			return -1;
		fk->src[0] = ip->daddr;
		fk->dst[0] = ip->saddr;
		fk->proto = ip->protocol;
	} else {
		struct ipv6hdr *ip6 = q;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		ports = (void *)(ip6 + 1);
		if ((void *)(ports + 2) > data_end)
			return -1;
		__builtin_memcpy(fk->src, &ip6->daddr, 16);
		__builtin_memcpy(fk->dst, &ip6->saddr, 16);
		fk->proto = ip6->nexthdr;
	}
	/* The quoted packet went VIP -> client: swap the ports back. */
	fk->sport = ports[1];
	fk->dport = ports[0];
	return 0;
}

/* Parses layer 4 at `l4`: ports, TCP flags, ICMP kind, QUIC DCID. Returns
 * 0, or an XDP verdict to return at once. */
static __always_inline int parse_l4(void *l4, void *data_end, struct pkt *p)
{
	if (p->fk.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > data_end)
			return XDP_DROP;
		p->fk.sport = th->source;
		p->fk.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return 0;
	}
	if (p->fk.proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		__u8 *q = (void *)(uh + 1);
		if ((void *)(uh + 1) > data_end)
			return XDP_DROP;
		p->fk.sport = uh->source;
		p->fk.dport = uh->dest;
		if ((void *)(q + 1) > data_end)
			return 0;
		if (q[0] & 0x80) {
			/* Long header: flags, version(4), DCID len, DCID. */
			if ((void *)(q + 9) > data_end || q[5] < 3)
				return 0;
			p->dcid[0] = q[6];
			p->dcid[1] = q[7];
			p->dcid[2] = q[8];
		} else {
			if ((void *)(q + 4) > data_end)
				return 0;
			p->dcid[0] = q[1];
			p->dcid[1] = q[2];
			p->dcid[2] = q[3];
		}
		p->has_dcid = 1;
		return 0;
	}
	if ((!p->is_v6 && p->fk.proto == IPPROTO_ICMP) ||
	    (p->is_v6 && p->fk.proto == IPPROTO_ICMPV6_)) {
		struct icmphdr *ic = l4;
		if ((void *)(ic + 1) > data_end)
			return XDP_DROP;
		if ((!p->is_v6 && ic->type == ICMP_ECHO) ||
		    (p->is_v6 && ic->type == ICMPV6_ECHO_REQUEST)) {
			p->icmp_kind = ICMP_KIND_ECHO;
		} else if ((!p->is_v6 && ic->type == ICMP_DEST_UNREACH &&
			    ic->code == ICMP_FRAG_NEEDED) ||
			   (p->is_v6 && ic->type == ICMPV6_PKT_TOOBIG)) {
			p->icmp_kind = ICMP_KIND_TOO_BIG;
			/* The flow key becomes the quoted flow's. */
			__builtin_memset(&p->fk, 0, sizeof(p->fk));
			if (parse_quoted((void *)(ic + 1), data_end, p->is_v6, &p->fk))
				return XDP_DROP;
		} else {
			p->icmp_kind = ICMP_KIND_OTHER;
		}
		return 0;
	}
	return XDP_PASS;
}

/* Answers an ICMP echo request in place: swap MACs and addresses, reset the
 * TTL, turn request into reply and patch the checksums. */
static __always_inline int icmp_echo_reply(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	/* Masked so verifiers see a bounded offset (it is 14 or 18). */
	__u32 off = p->l3off & 0x3f;
	if (!p->is_v6) {
		struct iphdr *ip = data + off;
		struct icmphdr *ic = (void *)(ip + 1);
		__u32 a;
		__u16 old;
		if ((void *)(ic + 1) > data_end)
			return XDP_DROP;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->ttl = LB_DEFAULT_TTL;
		ip->check = 0;
		ip->check = ipv4_csum(ip);
		old = *(__u16 *)ic;
		ic->type = ICMP_ECHOREPLY;
		ic->checksum = csum_replace(ic->checksum, old, *(__u16 *)ic);
	} else {
		struct ipv6hdr *ip6 = data + off;
		struct icmphdr *ic = (void *)(ip6 + 1);
		struct in6_addr a;
		__u16 old;
		if ((void *)(ic + 1) > data_end)
			return XDP_DROP;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = LB_DEFAULT_TTL;
		/* The pseudo-header sum is unchanged by swapping the addresses. */
		old = *(__u16 *)ic;
		ic->type = ICMPV6_ECHO_REPLY;
		ic->checksum = csum_replace(ic->checksum, old, *(__u16 *)ic);
	}
	count(CNT_ICMP_ECHO);
	return XDP_TX;
}

/* Encapsulates the IP packet at l3off to `be` and sets the outer Ethernet
 * header (next hop as destination, our own address as source). */
static __always_inline int encap(struct xdp_md *ctx, struct pkt *p, const struct backend *be,
				 const struct lb_ctl *c, __u32 h)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 our_mac[ETH_ALEN];
	int gue = c->flags & C_GUE;
	int out_v6 = be->flags & B_IPV6;
	__u32 olen = (out_v6 ? 40 : 20) + (gue ? 8 : 0);
	__u8 inner_proto = p->is_v6 ? 41 : 4; /* IPPROTO_IPV6 / IPPROTO_IPIP */
	__u32 inner_len = p->inner_len;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(our_mac, eth->h_dest, ETH_ALEN);
	if (bpf_xdp_adjust_head(ctx, (int)p->l3off - (int)(ETH_HLEN + olen))) {
		count(CNT_DROP_ENCAP);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, c->nexthop_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, our_mac, ETH_ALEN);

	if (!out_v6) {
		struct iphdr *ip = (void *)(eth + 1);
		struct iphdr o = {};
		__u32 src = c->src4;
		if ((void *)(ip + 1) > data_end)
			return XDP_DROP;
		eth->h_proto = bpf_htons(ETH_P_IP);
		((__u8 *)&src)[2] = (__u8)(h >> 8);
		((__u8 *)&src)[3] = (__u8)h;
		*(__u8 *)&o = 0x45;
		o.tos = p->tos;
		o.tot_len = bpf_htons((__u16)(inner_len + olen));
		o.ttl = LB_DEFAULT_TTL;
		o.protocol = gue ? IPPROTO_UDP : inner_proto;
		o.saddr = src;
		o.daddr = be->addr[0];
		o.check = ipv4_csum(&o);
		__builtin_memcpy(ip, &o, sizeof(o));
		if (gue) {
			struct udphdr *uh = (void *)(ip + 1);
			if ((void *)(uh + 1) > data_end)
				return XDP_DROP;
			/* RFC 8086 section 4: variant 1 carries the inner IP packet
			 * directly; a zero IPv4 UDP checksum is allowed. */
			uh->source = bpf_htons((__u16)(0xc000 | (h & 0x3fff)));
			uh->dest = bpf_htons(c->gue_port);
			uh->len = bpf_htons((__u16)(inner_len + 8));
			uh->check = 0;
		}
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u8 *b;
		if ((void *)(ip6 + 1) > data_end)
			return XDP_DROP;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		b = (void *)ip6;
		b[0] = 0x60 | (p->tos >> 4);
		b[1] = (__u8)(p->tos << 4);
		b[2] = 0;
		b[3] = 0;
		ip6->payload_len = bpf_htons((__u16)(inner_len + (gue ? 8 : 0)));
		ip6->nexthdr = gue ? IPPROTO_UDP : inner_proto;
		ip6->hop_limit = LB_DEFAULT_TTL;
		__builtin_memcpy(&ip6->saddr, c->src6, 12);
		ip6->saddr.in6_u.u6_addr32[3] = bpf_htonl(h);
		__builtin_memcpy(&ip6->daddr, be->addr, 16);
		if (gue) {
			struct udphdr *uh = (void *)(ip6 + 1);
			if ((void *)(uh + 1) > data_end)
				return XDP_DROP;
			/* RFC 6935/6936: a zero UDP checksum for tunnel traffic
			 * over IPv6. */
			uh->source = bpf_htons((__u16)(0xc000 | (h & 0x3fff)));
			uh->dest = bpf_htons(c->gue_port);
			uh->len = bpf_htons((__u16)(inner_len + 8));
			uh->check = 0;
		}
	}
	return XDP_TX;
}

/* Looks the VIP up by (addr, port, proto), then as an all-ports VIP. */
static __always_inline struct vip_meta *find_vip(const __u32 *addr, __u16 port, __u8 proto,
						 __u8 is_v6)
{
	struct vip_key k = {};
	struct vip_meta *m;
	__builtin_memcpy(k.addr, addr, 16);
	k.port = port;
	k.proto = proto;
	k.is_v6 = is_v6;
	m = bpf_map_lookup_elem(&vips, &k);
	if (m)
		return m;
	k.port = 0;
	m = bpf_map_lookup_elem(&vips, &k);
	if (m && (m->flags & F_ALL_PORTS))
		return m;
	return 0;
}

/* Whether this CPU may record one more new flow this second. */
static __always_inline int rate_allows(__u32 limit)
{
	__u32 zero = 0;
	struct rate_guard *g;
	__u64 now;
	if (!limit)
		return 1;
	g = bpf_map_lookup_elem(&rate, &zero);
	if (!g)
		return 1;
	now = bpf_ktime_get_ns();
	if (now - g->window_ns > 1000000000ull) {
		g->window_ns = now;
		g->count = 0;
	}
	g->count += 1;
	return g->count <= limit;
}

SEC("xdp")
int balancer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct pkt p = {};
	struct vip_meta *vip;
	struct backend *be;
	struct lb_ctl *c;
	struct conn *cn;
	__u32 zero = 0, h, backend_id = 0, idx;
	/* For the per-VIP and per-backend counters (see balancer.h). */
	__u32 conn_hit = 0, conn_miss = 0, new_conn = 0;
	__u16 h_proto;
	void *l3, *l4;
	int r;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	h_proto = eth->h_proto;
	l3 = eth + 1;
	p.l3off = ETH_HLEN;
	if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = l3;
		if ((void *)(vh + 1) > data_end)
			return XDP_DROP;
		h_proto = vh->encap_proto;
		l3 = vh + 1;
		p.l3off = ETH_HLEN + 4;
	}
	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end) {
			count(CNT_DROP_MALFORMED);
			return XDP_DROP;
		}
		if (ip->ihl != 5) {
			count(CNT_DROP_IP_OPTIONS);
			return XDP_DROP;
		}
		/* MF set or a non-zero offset: a fragment (RFC 791 section 3.1). */
		if (ip->frag_off & bpf_htons(0x3fff)) {
			count(CNT_DROP_FRAGMENT);
			return XDP_DROP;
		}
		p.fk.src[0] = ip->saddr;
		p.fk.dst[0] = ip->daddr;
		p.fk.proto = ip->protocol;
		p.tos = ip->tos;
		p.inner_len = bpf_ntohs(ip->tot_len);
		l4 = ip + 1;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end) {
			count(CNT_DROP_MALFORMED);
			return XDP_DROP;
		}
		if (ip6->nexthdr == NEXTHDR_FRAGMENT) {
			count(CNT_DROP_FRAGMENT);
			return XDP_DROP;
		}
		p.is_v6 = 1;
		__builtin_memcpy(p.fk.src, &ip6->saddr, 16);
		__builtin_memcpy(p.fk.dst, &ip6->daddr, 16);
		p.fk.proto = ip6->nexthdr;
		p.tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
		p.inner_len = 40 + bpf_ntohs(ip6->payload_len);
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}

	/* Frame bytes by the headers (pointer differences are not scalars to
	 * every verifier). */
	p.bytes = p.l3off + p.inner_len;
	r = parse_l4(l4, data_end, &p);
	if (r == XDP_DROP)
		count(CNT_DROP_MALFORMED);
	if (r)
		return r;

	if (p.icmp_kind == ICMP_KIND_ECHO) {
		struct vip_addr va = {};
		__builtin_memcpy(va.addr, p.fk.dst, 16);
		va.is_v6 = p.is_v6;
		if (!bpf_map_lookup_elem(&vip_addrs, &va)) {
			count(CNT_PASS_NON_VIP);
			return XDP_PASS;
		}
		return icmp_echo_reply(ctx, &p);
	}
	if (p.icmp_kind == ICMP_KIND_OTHER) {
		count(CNT_PASS_NON_VIP);
		return XDP_PASS;
	}

	vip = find_vip(p.fk.dst, p.fk.dport, p.fk.proto, p.is_v6);
	if (!vip) {
		count(CNT_PASS_NON_VIP);
		return XDP_PASS;
	}
	c = bpf_map_lookup_elem(&ctl, &zero);
	if (!c)
		return XDP_DROP;
	h = flow_hash(&p.fk, vip->flags & F_SRC_ONLY);

	if (p.icmp_kind == ICMP_KIND_TOO_BIG) {
		count(CNT_ICMP_TOO_BIG);
	} else if ((vip->flags & F_QUIC) && p.fk.proto == IPPROTO_UDP && p.has_dcid) {
		if ((p.dcid[0] >> 6) == 1) {
			__u32 sid = ((__u32)p.dcid[1] << 8) | p.dcid[2];
			__u32 *b = bpf_map_lookup_elem(&quic_servers, &sid);
			if (b && *b) {
				backend_id = *b;
				count(CNT_QUIC_ROUTED);
			}
		}
		if (!backend_id)
			count(CNT_QUIC_FALLBACK);
	}

	if (!backend_id) {
		cn = bpf_map_lookup_elem(&conn_local, &p.fk);
		if (cn && cn->backend) {
			backend_id = cn->backend;
			conn_hit = 1;
			count(CNT_CONN_LOCAL_HIT);
		} else {
			cn = bpf_map_lookup_elem(&conn_shared, &p.fk);
			if (cn && cn->backend) {
				struct conn v = {.backend = cn->backend};
				backend_id = cn->backend;
				conn_hit = 1;
				count(CNT_CONN_SHARED_HIT);
				/* The flow moved to this CPU: keep it local from now. */
				if (p.icmp_kind != ICMP_KIND_TOO_BIG)
					bpf_map_update_elem(&conn_local, &p.fk, &v, BPF_ANY);
			}
		}
	}
	if (!backend_id) {
		__u32 *slot;
		conn_miss = 1;
		count(CNT_CONN_MISS);
		if (vip->vip_num >= LB_MAX_VIPS)
			return XDP_DROP;
		idx = vip->vip_num * LB_RING_SIZE + h % LB_RING_SIZE;
		slot = bpf_map_lookup_elem(&rings, &idx);
		if (!slot || !*slot) {
			count(CNT_DROP_NO_BACKEND);
			return XDP_DROP;
		}
		backend_id = *slot;
		if (p.icmp_kind == ICMP_KIND_TOO_BIG) {
			/* An error about a flow is not a flow. */
		} else if (p.fk.proto == IPPROTO_TCP && (p.tcp_flags & 0x04)) {
			count(CNT_RST_NOT_RECORDED);
		} else if (!rate_allows(c->max_new_per_sec)) {
			count(CNT_RATE_LIMITED);
		} else {
			struct conn v = {.backend = backend_id};
			bpf_map_update_elem(&conn_local, &p.fk, &v, BPF_ANY);
			bpf_map_update_elem(&conn_shared, &p.fk, &v, BPF_ANY);
			new_conn = 1;
			count(CNT_CONN_RECORDED);
		}
	}

	be = bpf_map_lookup_elem(&backends, &backend_id);
	if (!be) {
		count(CNT_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	/* One lookup per map, as before: the new fields are plain adds. */
	idx = vip->vip_num;
	struct lb_vip_stats *vs = bpf_map_lookup_elem(&vip_stats, &idx);
	if (vs) {
		vs->packets += 1;
		vs->bytes += p.bytes;
		vs->new_conns += new_conn;
		vs->conn_hits += conn_hit;
		vs->conn_misses += conn_miss;
	}
	struct lb_stats *bs = bpf_map_lookup_elem(&backend_stats, &backend_id);
	if (bs) {
		bs->packets += 1;
		bs->bytes += p.bytes;
		bs->new_conns += new_conn;
	}
	return encap(ctx, &p, be, c, h);
}

char LICENSE[] SEC("license") = "GPL";
