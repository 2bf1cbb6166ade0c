//! Per-packet time of the balancer datapath on our JIT against the same
//! object in the kernel, measured in alternating blocks so that both sides
//! see the same machine: `cargo bench -p oxbpf-lb --bench paired`.
//!
//! The `packets` bench (criterion) measures each side for seconds on end;
//! on a shared VM the machine's speed drifts by 20% or more between those
//! stretches, and the ratio with it. Here every round runs blocks of
//! [`BLOCK`] packets on one side, then on the other, until each has run
//! [`PER_ROUND`]; a round's figure per side is the mean of its per-run
//! times without the slowest 1% (preemptions), its ratio ours / kernel.
//! Per run, both sides are timed as in `packets`: the kernel's own
//! `duration_ns` of a one-run `BPF_PROG_TEST_RUN` on a fresh frame; ours
//! [`oxbpf::XdpSession::run_loaded_in`] after
//! [`oxbpf::XdpSession::load`] put a fresh packet in the frame, the epoch
//! pin taken per block outside the clock (as the kernel takes its RCU
//! read lock before its timer starts).
//!
//! Without root (no kernel side) it says so and measures nothing.

use std::time::Instant;

#[path = "setup.rs"]
mod setup;

use oxbpf::{EngineKind, Loader, RunGuard, RunOptions};
use oxbpf_kernel::{KernelObject, LoadOptions, TestRun};

/// Packets per side per round.
const PER_ROUND: u64 = 100_000;
/// Packets one side runs before the other takes over.
const BLOCK: u64 = 500;
/// Rounds per scenario.
const ROUNDS: usize = 5;
/// Packets per side per round of `new_tcp_flow_unique`: five rounds of
/// new flows stay below the 65,536 entries of the connection tables.
const UNIQUE_PER_ROUND: u64 = 12_000;
/// New flows run untimed before `new_tcp_flow_table_full` is measured:
/// more than the datapath's 65,536-entry connection tables hold.
const FILL: u64 = 70_000;

/// Mean of `t` without its slowest 1%.
fn trimmed_mean(mut t: Vec<u64>) -> f64 {
    t.sort_unstable();
    let kept = t.len() - t.len() / 100;
    t[..kept].iter().sum::<u64>() as f64 / kept as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes
    // nothing of the kind: then one short round shows it works.
    let bench = std::env::args().any(|a| a == "--bench");
    let (per_round, rounds) = if bench {
        (PER_ROUND, ROUNDS)
    } else {
        (2 * BLOCK, 1)
    };
    let obj_path = setup::compile("oxbpf-lb-paired.o");
    let ox = Loader::new()
        .load_file(&obj_path)
        .expect("load the datapath");
    setup::configure(&ox);
    let runner = ox
        .program("balancer")
        .expect("balancer program")
        .load(EngineKind::Jit)
        .expect("JIT compile");
    let parsed = oxbpf_object::Object::parse(&std::fs::read(&obj_path).expect("read object"))
        .expect("parse object");
    let kernel = match KernelObject::load_with(&parsed, &LoadOptions::default()) {
        Ok(k) => k,
        Err(e) => {
            println!("paired: kernel side unavailable ({e}); nothing measured");
            return;
        }
    };
    setup::configure(&kernel);
    let prog = kernel.program("balancer").expect("kernel program");
    println!(
        "{:<24} {:>5} {:>10} {:>10} {:>8}",
        "case", "round", "jit ns", "kernel ns", "jit/kern"
    );
    // `new_tcp_flow_unique` runs first and only UNIQUE_PER_ROUND packets
    // a round, so its flows never fill the tables; `new_tcp_flow` cycles
    // 60,000 client ports (after the first 60,000 packets, SYNs of flows
    // the tables hold, spread over cold memory).
    let scenarios = [
        "new_tcp_flow_unique",
        "new_tcp_flow_table_full",
        "new_tcp_flow",
        "established_tcp",
        "udp",
        "non_vip_pass",
    ];
    for scenario in scenarios {
        let per_round = if scenario == "new_tcp_flow_unique" {
            per_round.min(UNIQUE_PER_ROUND)
        } else {
            per_round
        };
        let mut s = runner.xdp_session(RunOptions::default()).expect("session");
        // Each side sees input i once, in the same order.
        let (mut next_ours, mut next_theirs) = (0u64, 0u64);
        if scenario == "new_tcp_flow_table_full" && bench {
            // Fill both sides' connection tables first (untimed).
            for _ in 0..FILL {
                let p = setup::input(scenario, next_ours);
                next_ours += 1;
                next_theirs += 1;
                s.run(&p).expect("fill run");
                let mut run = TestRun::with_data(&p);
                run.extra_out = 64;
                prog.test_run(&mut run).expect("fill test run");
            }
        }
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let mut ours = Vec::with_capacity(per_round as usize);
            let mut theirs = Vec::with_capacity(per_round as usize);
            while (ours.len() as u64) < per_round {
                let guard = RunGuard::pin();
                for _ in 0..BLOCK {
                    let p = setup::input(scenario, next_ours);
                    next_ours += 1;
                    s.load(&p).expect("packet");
                    let t = Instant::now();
                    let r = s.run_loaded_in(&guard);
                    ours.push(t.elapsed().as_nanos() as u64);
                    std::hint::black_box(r.expect("run"));
                }
                drop(guard);
                for _ in 0..BLOCK {
                    let p = setup::input(scenario, next_theirs);
                    next_theirs += 1;
                    let mut run = TestRun::with_data(&p);
                    run.extra_out = 64;
                    theirs.push(u64::from(
                        prog.test_run(&mut run).expect("test run").duration_ns,
                    ));
                }
            }
            let (o, k) = (trimmed_mean(ours), trimmed_mean(theirs));
            ratios.push(o / k);
            println!(
                "{scenario:<24} {round:>5} {o:>10.1} {k:>10.1} {:>7.2}x",
                o / k
            );
        }
        println!(
            "{scenario:<24} {:>5} {:>10} {:>10} {:>7.2}x  (median of {rounds} rounds)",
            "all",
            "",
            "",
            median(ratios)
        );
    }
}
