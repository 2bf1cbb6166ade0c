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

/// Loads an example unverified: its programs run in checked mode (with
/// the instruction budget, and with helpers the verifier does not know yet).
fn load_checked(name: &str) -> Object {
    oxbpf::Loader::new()
        .ncpus(1)
        .verify(false)
        .load_file(example(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Both modes: verified (the default) and checked.
fn load_both(name: &str) -> [(Object, &'static str); 2] {
    [(load(name, 1), "verified"), (load_checked(name), "checked")]
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
        for (obj, mode) in load_both("tail_dispatch") {
            let engine_mode = (engine, mode);
            assert_eq!(obj.tail_call("jump_table", 6).unwrap(), Some("handle_tcp"));
            let o = RunOptions::default();
            // TCP -> handle_tcp (drop), UDP -> handle_udp (tx), ICMP: slot 1
            // empty, the tail call falls through and dispatch passes.
            assert_eq!(
                run_with(&obj, "dispatch", engine, &tcp, &o).action(),
                Some(XdpAction::Drop),
                "{engine_mode:?}"
            );
            assert_eq!(
                run_with(&obj, "dispatch", engine, &udp, &o).action(),
                Some(XdpAction::Tx),
                "{engine_mode:?}"
            );
            assert_eq!(
                run_with(&obj, "dispatch", engine, &icmp, &o).action(),
                Some(XdpAction::Pass),
                "{engine_mode:?}"
            );
            assert_eq!(
                [0, 1, 2].map(|i| counter(&obj, "hits", i)),
                [1, 1, 1],
                "{engine_mode:?}: a handler that ran must not also fall through"
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
                "{engine_mode:?}"
            );
        }
    }
}

#[test]
fn a_self_tail_call_runs_34_times_then_falls_through() {
    for engine in ENGINES {
        for (obj, mode) in load_both("tail_dispatch") {
            let engine_mode = (engine, mode);
            let out = run_with(
                &obj,
                "chain",
                engine,
                &ipv4_udp(b"", 1, 2),
                &RunOptions::default(),
            );
            assert_eq!(out.action(), Some(XdpAction::Pass), "{engine_mode:?}");
            // The first run plus MAX_TAIL_CALLS (33) tail calls.
            assert_eq!(counter(&obj, "hits", 3), 34, "{engine_mode:?}");
            // The limit is per run, not per object.
            run_with(
                &obj,
                "chain",
                engine,
                &ipv4_udp(b"", 1, 2),
                &RunOptions::default(),
            );
            assert_eq!(counter(&obj, "hits", 3), 68, "{engine_mode:?}");
        }
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
        for (obj, mode) in load_both("tenant_maps") {
            let engine_mode = (engine, mode);
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
                "{engine_mode:?}"
            );
            let t1_udp =
                u64::from_ne_bytes(t1.lookup(&2u32.to_ne_bytes()).unwrap().try_into().unwrap());
            assert_eq!(t1_udp, 3, "{engine_mode:?}");
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
}

#[test]
fn redirect_through_a_devmap_records_the_port() {
    let pkt = ipv4_udp(b"x", 1, 2);
    let q = |rx_queue| RunOptions {
        rx_queue,
        ..Default::default()
    };
    for engine in ENGINES {
        for (obj, mode) in load_both("redirect") {
            let engine_mode = (engine, mode);
            obj.map("tx_ports")
                .unwrap()
                .update(&3u32.to_ne_bytes(), &42u32.to_ne_bytes(), 0)
                .unwrap();
            let out = run_with(&obj, "to_port", engine, &pkt, &q(3));
            assert_eq!(out.action(), Some(XdpAction::Redirect), "{engine_mode:?}");
            assert_eq!(out.redirect, Some(Redirect::Ifindex(42)), "{engine_mode:?}");
            // An empty slot: the flags' low bits (XDP_PASS), no redirect.
            let out = run_with(&obj, "to_port", engine, &pkt, &q(2));
            assert_eq!(out.action(), Some(XdpAction::Pass), "{engine_mode:?}");
            assert_eq!(out.redirect, None, "{engine_mode:?}");
            let out = run_with(&obj, "to_ifindex", engine, &pkt, &q(0));
            assert_eq!(out.action(), Some(XdpAction::Redirect), "{engine_mode:?}");
            assert_eq!(out.redirect, Some(Redirect::Ifindex(7)), "{engine_mode:?}");
        }
    }
}

#[test]
fn spin_lock_keeps_parallel_increments() {
    const THREADS: usize = 4;
    const RUNS: usize = 2000;
    let pkt = ipv4_udp(b"x", 1, 2);
    for engine in ENGINES {
        // The verifier does not know bpf_spin_lock yet (helper 93): checked
        // mode, where every helper argument is validated at run time.
        let obj = load_checked("spin_lock");
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

#[test]
fn the_budget_runs_across_a_tail_call_chain_alike_on_every_engine() {
    use oxbpf_maps::RunGuard;
    use oxbpf_runtime::Trapped;
    use oxbpf_runtime::packet::XdpBuff;

    // Budgets that run out in the middle of the chain, and one that lets
    // it finish; the same budget must stop every engine at the same slot
    // of the same program (seen through the run counter) with the same
    // budget left.
    for budget in [5u64, 40, 200, 100_000] {
        let mut seen: Vec<(Result<u64, Trapped>, u64, u64)> = Vec::new();
        for engine in ENGINES {
            let obj = load_checked("tail_dispatch");
            let runner = obj.program("chain").unwrap().load(engine).unwrap();
            let mut buf = XdpBuff::new(&ipv4_udp(b"", 1, 2)).unwrap();
            let (r, left) = {
                let mut state = runner.state(&RunOptions::default());
                state.budget = budget;
                let ctx = buf.attach(&mut state);
                let guard = RunGuard::pin();
                let r = runner.executable().run(&mut state, [ctx, 0, 0, 0, 0]);
                drop(guard);
                (r, state.budget)
            };
            seen.push((r, left, counter(&obj, "hits", 3)));
        }
        assert!(
            seen.iter().all(|s| *s == seen[0]),
            "budget {budget}: engines disagree: {seen:?}"
        );
        if budget == 100_000 {
            assert_eq!(seen[0].0, Ok(2), "XDP_PASS after the chain");
            assert_eq!(seen[0].2, 34);
        } else {
            assert_eq!(
                seen[0].0.map_err(|t| t.trap),
                Err(oxbpf_abi::Trap::BudgetExhausted),
                "budget {budget}"
            );
            assert!(seen[0].2 < 34, "budget {budget}");
        }
    }
}

#[test]
fn bpf_loop_runs_the_callback_until_it_stops() {
    for engine in ENGINES {
        for (obj, mode) in load_both("loop") {
            let engine_mode = (engine, mode);
            let out = run_with(
                &obj,
                "squares",
                engine,
                &ipv4_udp(b"", 1, 2),
                &RunOptions::default(),
            );
            assert_eq!(out.action(), Some(XdpAction::Pass), "{engine_mode:?}");
            let results = obj.array::<i64>("results").unwrap();
            let got: Vec<i64> = (0..6).map(|i| results.get(i).unwrap()).collect();
            // Stopped at index 7: 0+1+4+9+16+25+36 = 91, bpf_loop returns 7+1.
            // Full run of 5: 0+1+4+9+16 = 30, returns 5. Flags 1: -EINVAL.
            // (1 << 23) + 1 iterations: -E2BIG as the kernel's inlined
            // loop sets it, a 32-bit -7 zero-extended (0xfffffff9).
            assert_eq!(got, [91, 8, 30, 5, -22, 0xffff_fff9], "{engine_mode:?}");
        }
    }
}

#[test]
fn prog_array_slots_change_safely_while_programs_run() {
    // Two threads dispatch UDP while a third flips slot 17 between the two
    // handlers: every run must reach one of them (never fall through).
    const RUNS: usize = 1500;
    let udp = ipv4_udp(b"x", 1, 53);
    for engine in ENGINES {
        let obj = load("tail_dispatch", 1);
        let runner = obj.program("dispatch").unwrap().load(engine).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let runners: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..RUNS {
                            let a = runner.run_xdp(&udp).unwrap().action();
                            assert!(matches!(a, Some(XdpAction::Drop | XdpAction::Tx)), "{a:?}");
                        }
                    })
                })
                .collect();
            s.spawn(|| {
                let mut flip = false;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let p = if flip { "handle_tcp" } else { "handle_udp" };
                    obj.set_tail_call("jump_table", 17, p).unwrap();
                    flip = !flip;
                }
            });
            for r in runners {
                r.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(
            counter(&obj, "hits", 0) + counter(&obj, "hits", 1),
            2 * RUNS as u64,
            "{engine:?}"
        );
        assert_eq!(counter(&obj, "hits", 2), 0, "{engine:?}");
    }
}
