//! The tail-call, map-in-map, redirect and spin-lock examples of
//! bpf/examples on every engine; expected verdicts and counts are worked
//! out here from the programs' documented behaviour.

mod common;

use std::sync::Arc;

use common::*;
use oxbpf::{EngineKind, Object, Redirect, RunOptions, XdpAction};

fn run_with(
    obj: &Object,
    prog: &str,
    engine: EngineKind,
    pkt: &[u8],
    opts: &RunOptions,
) -> oxbpf::XdpOutput {
    obj.program(prog)
        .unwrap()
        .load(engine)
        .unwrap()
        .run_xdp_with(pkt, opts)
        .unwrap_or_else(|e| panic!("{prog} on {engine:?}: {e}"))
}

fn counter(obj: &Object, map: &str, i: u32) -> u64 {
    obj.array::<u64>(map).unwrap().get(i).unwrap()
}

fn icmp() -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut out, b"ping")
        .unwrap();
    out
}

#[test]
fn tail_calls_dispatch_by_protocol_from_the_objects_own_slots() {
    let (tcp, udp, icmp) = (ipv4_tcp(b"x", 1, 80), ipv4_udp(b"x", 1, 53), icmp());
    for engine in ENGINES {
        let obj = load("tail_dispatch", 1);
        assert_eq!(obj.tail_call("jump_table", 6).unwrap(), Some("handle_tcp"));
        let o = RunOptions::default();
        // TCP -> handle_tcp (drop), UDP -> handle_udp (tx), ICMP: slot 1
        // empty, the tail call falls through and dispatch passes.
        assert_eq!(
            run_with(&obj, "dispatch", engine, &tcp, &o).action(),
            Some(XdpAction::Drop),
            "{engine:?}"
        );
        assert_eq!(
            run_with(&obj, "dispatch", engine, &udp, &o).action(),
            Some(XdpAction::Tx),
            "{engine:?}"
        );
        assert_eq!(
            run_with(&obj, "dispatch", engine, &icmp, &o).action(),
            Some(XdpAction::Pass),
            "{engine:?}"
        );
        assert_eq!(
            [0, 1, 2].map(|i| counter(&obj, "hits", i)),
            [1, 1, 1],
            "{engine:?}: a handler that ran must not also fall through"
        );
        // The control plane re-routes UDP to the TCP handler, then empties
        // the slot so UDP falls through.
        obj.set_tail_call("jump_table", 17, "handle_tcp").unwrap();
        assert_eq!(
            run_with(&obj, "dispatch", engine, &udp, &o).action(),
            Some(XdpAction::Drop)
        );
        obj.clear_tail_call("jump_table", 17).unwrap();
        assert_eq!(
            run_with(&obj, "dispatch", engine, &udp, &o).action(),
            Some(XdpAction::Pass)
        );
        assert_eq!(
            [0, 1, 2].map(|i| counter(&obj, "hits", i)),
            [2, 1, 2],
            "{engine:?}"
        );
    }
}

#[test]
fn a_self_tail_call_runs_34_times_then_falls_through() {
    for engine in ENGINES {
        let obj = load("tail_dispatch", 1);
        let out = run_with(
            &obj,
            "chain",
            engine,
            &ipv4_udp(b"", 1, 2),
            &RunOptions::default(),
        );
        assert_eq!(out.action(), Some(XdpAction::Pass), "{engine:?}");
        // The first run plus MAX_TAIL_CALLS (33) tail calls.
        assert_eq!(counter(&obj, "hits", 3), 34, "{engine:?}");
        // The limit is per run, not per object.
        run_with(
            &obj,
            "chain",
            engine,
            &ipv4_udp(b"", 1, 2),
            &RunOptions::default(),
        );
        assert_eq!(counter(&obj, "hits", 3), 68, "{engine:?}");
    }
}

#[test]
fn map_in_map_selects_the_tenants_table() {
    let (tcp, udp) = (ipv4_tcp(b"x", 1, 80), ipv4_udp(b"x", 1, 53));
    let q = |rx_queue| RunOptions {
        rx_queue,
        ..Default::default()
    };
    for engine in ENGINES {
        let obj = load("tenant_maps", 1);
        assert_eq!(
            run_with(&obj, "per_tenant", engine, &tcp, &q(0)).action(),
            Some(XdpAction::Pass)
        );
        assert_eq!(
            run_with(&obj, "per_tenant", engine, &udp, &q(0)).action(),
            Some(XdpAction::Pass)
        );
        // Tenant 1 has no table yet.
        assert_eq!(
            run_with(&obj, "per_tenant", engine, &udp, &q(1)).action(),
            Some(XdpAction::Drop)
        );
        let t1 = obj.create_inner_map("tenants", "tenant1").unwrap();
        obj.set_inner_map("tenants", &1u32.to_ne_bytes(), t1.clone())
            .unwrap();
        for _ in 0..3 {
            run_with(&obj, "per_tenant", engine, &udp, &q(1));
        }
        assert_eq!(
            [0, 1, 2].map(|i| counter(&obj, "tenant0", i)),
            [0, 1, 1],
            "{engine:?}"
        );
        let t1_udp =
            u64::from_ne_bytes(t1.lookup(&2u32.to_ne_bytes()).unwrap().try_into().unwrap());
        assert_eq!(t1_udp, 3, "{engine:?}");
        // A table of the wrong shape is refused.
        let wrong = oxbpf_maps::create(
            &oxbpf_maps::MapSpec::new(oxbpf_maps::MapKind::Array, 4, 8, 9),
            &oxbpf_maps::MapOptions::default(),
        )
        .unwrap();
        assert!(
            obj.set_inner_map("tenants", &2u32.to_ne_bytes(), wrong)
                .is_err()
        );
    }
}

#[test]
fn redirect_through_a_devmap_records_the_port() {
    let pkt = ipv4_udp(b"x", 1, 2);
    let q = |rx_queue| RunOptions {
        rx_queue,
        ..Default::default()
    };
    for engine in ENGINES {
        let obj = load("redirect", 1);
        obj.map("tx_ports")
            .unwrap()
            .update(&3u32.to_ne_bytes(), &42u32.to_ne_bytes(), 0)
            .unwrap();
        let out = run_with(&obj, "to_port", engine, &pkt, &q(3));
        assert_eq!(out.action(), Some(XdpAction::Redirect), "{engine:?}");
        assert_eq!(out.redirect, Some(Redirect::Ifindex(42)), "{engine:?}");
        // An empty slot: the flags' low bits (XDP_PASS), no redirect.
        let out = run_with(&obj, "to_port", engine, &pkt, &q(2));
        assert_eq!(out.action(), Some(XdpAction::Pass), "{engine:?}");
        assert_eq!(out.redirect, None, "{engine:?}");
        let out = run_with(&obj, "to_ifindex", engine, &pkt, &q(0));
        assert_eq!(out.action(), Some(XdpAction::Redirect), "{engine:?}");
        assert_eq!(out.redirect, Some(Redirect::Ifindex(7)), "{engine:?}");
    }
}

#[test]
fn spin_lock_keeps_parallel_increments() {
    const THREADS: usize = 4;
    const RUNS: usize = 2000;
    let pkt = ipv4_udp(b"x", 1, 2);
    for engine in ENGINES {
        let obj = load("spin_lock", 1);
        let runner = Arc::new(obj.program("locked_count").unwrap().load(engine).unwrap());
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                let (runner, pkt) = (runner.clone(), &pkt);
                s.spawn(move || {
                    for _ in 0..RUNS {
                        let out = runner.run_xdp(pkt).unwrap();
                        assert_eq!(out.action(), Some(XdpAction::Pass));
                    }
                });
            }
        });
        let value = obj
            .map("counters")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        let word = |i: usize| u64::from_ne_bytes(value[i * 8..i * 8 + 8].try_into().unwrap());
        // struct counter: lock (4 bytes + padding), total, twice.
        assert_eq!(word(1), (THREADS * RUNS) as u64, "{engine:?}");
        assert_eq!(word(2), 2 * (THREADS * RUNS) as u64, "{engine:?}");
        assert_eq!(value[..4], [0; 4], "{engine:?}: the lock is released");
    }
}
