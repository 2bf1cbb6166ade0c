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
//! the benchmark's (`benches/packets.rs`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use etherparse::PacketBuilder;
use oxbpf::{EngineKind, Loader, RunOptions};
use oxbpf_lb::{Balancer, GlobalConfig, MapTarget, Vip, VipOptions};

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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf/balancer.bpf.c");
    let out = std::env::temp_dir().join(format!("oxbpf-lb-count-{}.o", std::process::id()));
    let ok = Command::new("clang")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang")
        .success();
    assert!(ok, "clang failed");
    let obj = Loader::new().load_file(&out).expect("load");
    let _ = std::fs::remove_file(&out);
    configure(&obj);
    let runner = obj.program("balancer").unwrap().load(engine).unwrap();
    let inputs: Vec<Vec<u8>> = (0..n).map(|i| input(scenario, i)).collect();
    let mut s = runner.xdp_session(RunOptions::default()).unwrap();
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

fn configure(t: &dyn MapTarget) {
    let mut b = Balancer::new(GlobalConfig {
        nexthop_mac: [2, 0, 0, 0, 0, 0xfe],
        ..GlobalConfig::default()
    });
    b.write_global(t).unwrap();
    let bs: Vec<_> = (1..=10)
        .map(|i| (IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)), 1))
        .collect();
    for v in [
        Vip {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)),
            port: 80,
            proto: 6,
        },
        Vip {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)),
            port: 53,
            proto: 17,
        },
    ] {
        b.add_vip(t, v, VipOptions::default()).unwrap();
        b.set_backends(t, &v, &bs).unwrap();
    }
}

fn frame(dst: [u8; 4], sport: u16, dport: u16, udp: bool) -> Vec<u8> {
    let ip = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(
        [192, 0, 2, 7],
        dst,
        64,
    );
    let mut out = Vec::new();
    if udp {
        ip.udp(sport, dport).write(&mut out, &[0; 64]).unwrap();
    } else {
        ip.tcp(sport, dport, 1, 64240)
            .syn()
            .write(&mut out, &[0; 64])
            .unwrap();
    }
    out
}

fn input(scenario: &str, i: u64) -> Vec<u8> {
    match scenario {
        "new_tcp_flow" => frame([10, 0, 0, 10], 1024 + (i % 60000) as u16, 80, false),
        "established_tcp" => frame([10, 0, 0, 10], 999, 80, false),
        "udp" => frame([10, 0, 0, 11], 999, 53, true),
        _ => frame([10, 0, 0, 99], 999, 80, false),
    }
}
