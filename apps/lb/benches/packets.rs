//! Per-packet time of the balancer datapath on our JIT against the same
//! object in the kernel (`BPF_PROG_TEST_RUN`), issue 10 item 4: a new TCP
//! flow, an established flow, UDP, and a non-VIP packet that passes.
//!
//! Both sides are timed alike, per run, around the program's run only:
//!
//! - the kernel's figure is its own `duration_ns` of a one-run test run.
//!   `bpf_prog_test_run_xdp` copies the packet into a fresh frame and sets
//!   up the `xdp_buff` first (`bpf_test_init`, `xdp_convert_md_to_buff`);
//!   then `bpf_test_run` enters its timer (RCU read lock and migration off
//!   before the clock starts), runs the program (`bpf_prog_run_xdp`) and
//!   stops the clock (`bpf_test_timer_continue`). The syscall and the copies
//!   are outside the figure;
//! - ours puts the packet in the session's frame first
//!   ([`oxbpf::XdpSession::load`], the counterpart of `bpf_test_init`,
//!   untimed), then times [`oxbpf::XdpSession::run_loaded_in`] with a
//!   clock read before and after: the run's whole set-up (run state,
//!   regions, stack), the program, its helpers and maps. The epoch pin
//!   that plays RCU's part is taken once per batch before the clock starts,
//!   as `bpf_test_timer_enter` takes `rcu_read_lock` before its clock (and
//!   NAPI once per poll). `SCENARIO/jit-pin-per-run` times
//!   [`oxbpf::XdpSession::run_loaded`] instead, pin inside the clock
//!   (crossbeam's pin and unpin take about 11 ns alone on this machine).
//!   The two clock reads are in the figure as the kernel's two
//!   `ktime_get_ns` are in its.
//!
//! Each side's figure is the mean of its per-run times without the
//! slowest 1% ([`trimmed_total`]): runs preempted by other processes.
//!
//! Every run gets a fresh input frame (the datapath grows the packet, so a
//! kernel `repeat` on one buffer would run out of headroom). New flows use
//! a new client port per run. Both sides load the same object (LRU
//! connection tables), configured with 10 backends per VIP.

use std::time::{Duration, Instant};

#[path = "setup.rs"]
mod setup;

use criterion::{Criterion, criterion_group, criterion_main};
use oxbpf::{EngineKind, Loader, RunGuard, RunOptions};
use oxbpf_kernel::{KernelObject, LoadOptions, TestRun};

/// The time of `times.len()` runs from per-run times, the slowest 1% (at
/// least one run when there are 100 or more) replaced by the mean of the
/// others, on both sides alike. On a shared machine a run that the
/// scheduler preempts costs milliseconds of wall time, enough to dominate
/// a mean of runs of a few hundred nanoseconds; the kernel's timer already
/// stops around rescheduling (`bpf_test_timer_continue` leaves the timer
/// before `cond_resched`), ours cannot.
fn trimmed_total(mut times: Vec<Duration>) -> Duration {
    let n = times.len();
    if n == 0 {
        return Duration::ZERO;
    }
    times.sort_unstable();
    let kept = n - n / 100;
    let sum: Duration = times[..kept].iter().sum();
    sum * n as u32 / kept as u32
}

fn packets(c: &mut Criterion) {
    let obj_path = setup::compile("oxbpf-lb-bench.o");
    let ox = Loader::new().load_file(&obj_path).unwrap();
    setup::configure(&ox);
    let runner = ox
        .program("balancer")
        .unwrap()
        .load(EngineKind::Jit)
        .unwrap();
    let kernel = {
        let parsed = oxbpf_object::Object::parse(&std::fs::read(&obj_path).unwrap()).unwrap();
        match KernelObject::load_with(&parsed, &LoadOptions::default()) {
            Ok(k) => {
                setup::configure(&k);
                Some(k)
            }
            Err(e) => {
                eprintln!("kernel side skipped: {e}");
                None
            }
        }
    };
    let mut g = c.benchmark_group("packets");
    for scenario in ["new_tcp_flow", "established_tcp", "udp", "non_vip_pass"] {
        g.bench_function(format!("{scenario}/jit"), |b| {
            let mut s = runner.xdp_session(RunOptions::default()).unwrap();
            let mut n = 0u64;
            b.iter_custom(|iters| {
                let mut times = Vec::with_capacity(iters as usize);
                // One pin per batch, outside the clock, as the kernel takes
                // its RCU read lock before its timer starts.
                let guard = RunGuard::pin();
                for i in 0..iters {
                    let p = setup::input(scenario, n + i);
                    s.load(&p).unwrap();
                    let t = Instant::now();
                    let ret = s.run_loaded_in(&guard);
                    times.push(t.elapsed());
                    std::hint::black_box(ret.unwrap());
                }
                n += iters;
                trimmed_total(times)
            })
        });
        // The same with the pin inside the clock, once per run.
        g.bench_function(format!("{scenario}/jit-pin-per-run"), |b| {
            let mut s = runner.xdp_session(RunOptions::default()).unwrap();
            let mut n = 0u64;
            b.iter_custom(|iters| {
                let mut times = Vec::with_capacity(iters as usize);
                for i in 0..iters {
                    let p = setup::input(scenario, n + i);
                    s.load(&p).unwrap();
                    let t = Instant::now();
                    let ret = s.run_loaded();
                    times.push(t.elapsed());
                    std::hint::black_box(ret.unwrap());
                }
                n += iters;
                trimmed_total(times)
            })
        });
        if let Some(k) = &kernel {
            let prog = k.program("balancer").unwrap();
            g.bench_function(format!("{scenario}/kernel"), |b| {
                let mut n = 0u64;
                b.iter_custom(|iters| {
                    let mut times = Vec::with_capacity(iters as usize);
                    for i in 0..iters {
                        let p = setup::input(scenario, n + i);
                        let mut run = TestRun::with_data(&p);
                        run.extra_out = 64;
                        times.push(Duration::from_nanos(u64::from(
                            prog.test_run(&mut run).unwrap().duration_ns,
                        )));
                    }
                    n += iters;
                    trimmed_total(times)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, packets);
criterion_main!(benches);
