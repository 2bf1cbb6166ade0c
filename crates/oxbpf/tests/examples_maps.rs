//! The map-type examples (lru_conntrack, lpm_route, ringbuf_events) on the
//! interpreter, the fast interpreter and the JIT. Expected map state and
//! records are worked out here from the packets, independently of the
//! programs.

mod common;

use common::*;
use etherparse::PacketBuilder;
use oxbpf::{EngineKind, Object};
use oxbpf_maps::{RingBuf, update::BPF_ANY};

fn run(obj: &Object, prog: &str, engine: EngineKind, pkt: &[u8]) -> u32 {
    obj.program(prog)
        .unwrap()
        .load(engine)
        .unwrap()
        .run_xdp(pkt)
        .unwrap_or_else(|e| panic!("{prog} on {engine:?}: {e}"))
        .ret
}

fn udp_to(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, ttl)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// The ct_key of lru_conntrack.c: addresses and ports in network order,
/// protocol, 3 bytes of padding.
fn ct_key(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[0..4].copy_from_slice(&src);
    k[4..8].copy_from_slice(&dst);
    k[8..10].copy_from_slice(&sport.to_be_bytes());
    k[10..12].copy_from_slice(&dport.to_be_bytes());
    k[12] = proto;
    k
}

#[test]
fn lru_conntrack_counts_flows_and_evicts_the_least_recent() {
    let src = [10, 0, 0, 1];
    let dst = [10, 0, 0, 2];
    // Five flows, differing by source port; the table holds four.
    let pkt = |i: u16| udp_to(src, dst, 1000 + i, 53, 64, &[0; 10]);
    for engine in ENGINES {
        let obj = load("lru_conntrack", 1);
        // Flows 0..4 once each, then flow 0 again (now the most recent):
        // flow 1 is the least recently seen when flow 4 arrives.
        for i in [0, 1, 2, 3, 0, 4] {
            assert_eq!(run(&obj, "lru_conntrack", engine, &pkt(i)), 2, "{engine:?}");
        }
        let ct = obj.hash_map::<[u8; 16], [u64; 2]>("conntrack").unwrap();
        let mut got = ct.entries().unwrap();
        got.sort();
        let len = pkt(0).len() as u64;
        let mut want: Vec<([u8; 16], [u64; 2])> = [(0, 2), (2, 1), (3, 1), (4, 1)]
            .into_iter()
            .map(|(i, n)| (ct_key(src, dst, 1000 + i, 53, 17), [n, n * len]))
            .collect();
        want.sort();
        assert_eq!(got, want, "{engine:?}: flow 1 evicted, never more than 4");
    }
}

/// The route_key of lpm_route.c.
fn route_key(plen: u32, addr: [u8; 4]) -> Vec<u8> {
    let mut k = plen.to_ne_bytes().to_vec();
    k.extend_from_slice(&addr);
    k
}

fn route(action: u32) -> Vec<u8> {
    let mut v = action.to_ne_bytes().to_vec();
    v.extend_from_slice(&0u32.to_ne_bytes());
    v
}

#[test]
fn lpm_route_longest_prefix_picks_the_verdict() {
    // (destination, expected verdict): /8 drops, /16 passes, /24 transmits,
    // /32 aborts, anything else has no route and drops.
    let cases: [([u8; 4], u32); 6] = [
        ([10, 9, 9, 9], 1),
        ([10, 1, 9, 9], 2),
        ([10, 1, 2, 9], 3),
        ([10, 1, 2, 3], 0),
        ([192, 168, 1, 1], 1),
        ([10, 1, 3, 0], 2),
    ];
    for engine in ENGINES {
        let obj = load("lpm_route", 1);
        let routes = obj.map("routes").unwrap();
        for (plen, addr, action) in [
            (8, [10, 0, 0, 0], 1u32),
            (16, [10, 1, 0, 0], 2),
            (24, [10, 1, 2, 0], 3),
            (32, [10, 1, 2, 3], 0),
        ] {
            routes
                .update(&route_key(plen, addr), &route(action), BPF_ANY)
                .unwrap();
        }
        for (dst, verdict) in cases {
            let pkt = udp_to([1, 1, 1, 1], dst, 1, 2, 64, b"x");
            assert_eq!(
                run(&obj, "lpm_route", engine, &pkt),
                verdict,
                "{dst:?} on {engine:?}"
            );
        }
        // Hits: /16 twice (10.1.9.9, 10.1.3.0), the others once; the
        // 192.168 packet matched nothing.
        for (plen, addr, hits) in [
            (8, [10, 0, 0, 0], 1u32),
            (16, [10, 1, 0, 0], 2),
            (24, [10, 1, 2, 0], 1),
            (32, [10, 1, 2, 3], 1),
        ] {
            // A lookup with the exact prefix finds that prefix's entry.
            let v = routes.lookup(&route_key(plen, addr)).unwrap();
            assert_eq!(v[4..8], hits.to_ne_bytes(), "/{plen} on {engine:?}");
        }
    }
}

#[test]
fn ringbuf_events_are_consumed_in_order() {
    let p1 = udp_to([10, 0, 0, 1], [10, 0, 0, 2], 1111, 53, 64, &[7; 5]);
    let dead = udp_to([10, 0, 0, 3], [10, 0, 0, 4], 1, 2, 1, b"");
    let p2 = udp_to([10, 0, 0, 5], [10, 0, 0, 6], 2222, 443, 64, &[]);
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let event = |p: &[u8], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16| -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&src);
        e.extend_from_slice(&dst);
        e.extend_from_slice(&sport.to_be_bytes());
        e.extend_from_slice(&dport.to_be_bytes());
        e.extend_from_slice(&(p.len() as u32).to_ne_bytes());
        e
    };
    let want = vec![
        event(&p1, [10, 0, 0, 1], [10, 0, 0, 2], 1111, 53),
        vec![0x08, 0x06],
        event(&p2, [10, 0, 0, 5], [10, 0, 0, 6], 2222, 443),
    ];
    for engine in ENGINES {
        let obj = load("ringbuf_events", 1);
        for p in [&p1, &dead, &arp, &p2] {
            assert_eq!(run(&obj, "ringbuf_events", engine, p), 2, "{engine:?}");
        }
        let map = obj.map("events").unwrap();
        let rb = map.as_any().downcast_ref::<RingBuf>().unwrap();
        // Bytes waiting after the last run, as the program queried them:
        // records (8-byte header + data, rounded up to 8) of 8 + 16 (the
        // event), 8 + 16 (discarded, still unconsumed), 8 + 2 (rounded to
        // 16), 8 + 16.
        let bss = obj
            .map(".bss")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(bss[..8], (24u64 + 24 + 16 + 24).to_ne_bytes(), "{engine:?}");
        let mut got = Vec::new();
        assert_eq!(rb.consume(|r| got.push(r.to_vec())), 3);
        assert_eq!(got, want, "{engine:?}");
        assert_eq!(rb.consume(|_| {}), 0);
    }
}

#[test]
fn queue_stack_helpers_push_pop_peek() {
    let pkts: [Vec<u8>; 3] = [vec![0; 60], vec![0; 70], vec![0; 80]];
    for engine in ENGINES {
        let obj = load("queue_stack", 1);
        let tokens = obj.map("tokens").unwrap();
        for t in [11u32, 22] {
            tokens.update(&[], &t.to_ne_bytes(), BPF_ANY).unwrap();
        }
        let bss = || {
            obj.map(".bss")
                .unwrap()
                .lookup(&0u32.to_ne_bytes())
                .unwrap()
        };
        // Pops 22 (LIFO), 11 is on top; then pops 11, nothing on top; then
        // no token: dropped.
        assert_eq!(run(&obj, "queue_stack", engine, &pkts[0]), 2, "{engine:?}");
        assert_eq!(bss()[..4], 11u32.to_ne_bytes());
        assert_eq!(run(&obj, "queue_stack", engine, &pkts[1]), 2, "{engine:?}");
        assert_eq!(bss()[..4], 0u32.to_ne_bytes());
        assert_eq!(run(&obj, "queue_stack", engine, &pkts[2]), 1, "{engine:?}");
        assert_eq!(tokens.stats().entries, 0);
        // The 2-entry queue kept the last two lengths, oldest first.
        let lens: Vec<Vec<u8>> = obj
            .map("lens")
            .unwrap()
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.1)
            .collect();
        assert_eq!(
            lens,
            [70u32.to_ne_bytes().to_vec(), 80u32.to_ne_bytes().to_vec()],
            "{engine:?}"
        );
    }
}
