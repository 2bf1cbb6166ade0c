//! Runs the balancer datapath `N` times on one scenario of the packets
//! benchmark on one engine, for instruction counts under callgrind (a
//! figure that the load of a shared machine does not move):
//!
//! ```text
//! cargo build --release -p oxbpf-lb --example lb_count
//! valgrind --tool=callgrind --toggle-collect='*run_all*' target/release/examples/lb_count jit new_tcp_flow 1000
//! ```
//!
//! With `--toggle-collect='*run_all*'` callgrind counts only the runs;
//! divide by `N` for the instructions of one packet. The object, configuration and inputs are
//! the benchmark's (`benches/setup.rs`).

#[path = "../benches/setup.rs"]
mod setup;

use oxbpf::{EngineKind, Loader, RunOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: lb_count ENGINE SCENARIO N");
        std::process::exit(2);
    }
    let engine = match args[1].as_str() {
        "jit" => EngineKind::Jit,
        "interp" => EngineKind::Interp,
        other => {
            eprintln!("unknown engine {other}");
            std::process::exit(2);
        }
    };
    let scenario = args[2].as_str();
    let n: u64 = args[3].parse().expect("N");
    let out = setup::compile(&format!("oxbpf-lb-count-{}.o", std::process::id()));
    let obj = Loader::new().load_file(&out).expect("load");
    let _ = std::fs::remove_file(&out);
    setup::configure(&obj);
    let runner = obj.program("balancer").unwrap().load(engine).unwrap();
    let inputs: Vec<Vec<u8>> = (0..n).map(|i| setup::input(scenario, i)).collect();
    let mut s = runner.xdp_session(RunOptions::default()).unwrap();
    // LB_COUNT_PRE=SCENARIO:N runs N packets of another scenario first,
    // untimed and uncounted (tables filled by an earlier case, as in the
    // paired bench).
    if let Some(pre) = std::env::var_os("LB_COUNT_PRE") {
        for pre in pre.to_string_lossy().split(',') {
            let (name, count) = pre.split_once(':').expect("LB_COUNT_PRE=SCENARIO:N,...");
            for i in 0..count.parse::<u64>().expect("N") {
                s.run(&setup::input(name, i)).unwrap();
            }
        }
    }
    if std::env::var_os("LB_COUNT_TIME").is_some() {
        // As the packets bench times it: load untimed, run_loaded timed.
        let mut total = std::time::Duration::ZERO;
        for p in &inputs {
            s.load(p).unwrap();
            let t = std::time::Instant::now();
            std::hint::black_box(s.run_loaded().unwrap());
            total += t.elapsed();
        }
        println!("{:.1} ns/run", total.as_nanos() as f64 / n.max(1) as f64);
        return;
    }
    println!("{}", run_all(&mut s, &inputs));
}

/// The measured part: callgrind's `--toggle-collect=*run_all*` counts only
/// this (the session's runs, packet copy included).
#[inline(never)]
fn run_all(s: &mut oxbpf::XdpSession<'_>, inputs: &[Vec<u8>]) -> u64 {
    let mut sum = 0u64;
    for p in inputs {
        sum += u64::from(s.run(p).unwrap());
    }
    sum
}
