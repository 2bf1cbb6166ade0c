//! The load balancer's namespace topology from the shell (root): the demo
//! (`scripts/lb-demo.sh`) and the benchmark (`scripts/lb-bench.sh`) use it.
//!
//! ```text
//! lb_netns up [--prefix P] [--backends N] [--oxbpf BIN --decap-object decap.o]
//!                                            build it, print `export` lines
//! lb_netns down [--prefix P]                remove it
//! lb_netns serve NAME [--port 80]           HTTP backend answering backend=NAME
//! lb_netns client [--conns N] [--json]      N requests to the VIP, count per backend
//! lb_netns cps [--seconds S] [--threads T]  connect+request+close loop, connections/s
//! lb_netns fill --pins DIR --nexthop-mac MAC --backends IP,IP,...
//!                                            the VIP 10.200.0.1:80/tcp written by the
//!                                            library into maps pinned by
//!                                            `oxbpf xdp attach --mode kernel` (no daemon)
//! ```
//!
//! `serve`, `client` and `cps` run in the caller's namespace: start them
//! with `ip netns exec NS`. The topology is described in
//! `oxbpf_testkit::lbnet`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oxbpf_lb::{Balancer, GlobalConfig, Vip, VipOptions};
use oxbpf_testkit::lbnet::{self, LbNet, ServerStats};
use oxbpf_testkit::netns::remove_stale;

const USAGE: &str = "usage: lb_netns up [--prefix P] [--backends N] [--oxbpf BIN --decap-object O] | down [--prefix P] | \
serve NAME [--port PORT] | client [--conns N] [--json] | cps [--seconds S] [--threads T] | \
fill --pins DIR --nexthop-mac MAC --backends IP,IP,...";

fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name}: expected a value")),
    }
}

fn opt_str(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn run(args: &[String]) -> Result<(), String> {
    let cmd = args.first().map(String::as_str).unwrap_or("");
    let rest = args.get(1..).unwrap_or(&[]);
    match cmd {
        "up" => {
            let prefix: String = opt(rest, "--prefix", "oxlbd".to_string())?;
            let n: u8 = opt(rest, "--backends", 3)?;
            let mut net = LbNet::create(&prefix, n)?;
            // Backends without ipip devices decapsulate in XDP.
            if let (Some(oxbpf), Some(obj)) =
                (opt_str(rest, "--oxbpf"), opt_str(rest, "--decap-object"))
            {
                net.attach_xdp_decap(Path::new(&oxbpf), Path::new(&obj))?;
            }
            net.keep();
            print!("{}", net.shell_vars());
            Ok(())
        }
        "down" => {
            let prefix: String = opt(rest, "--prefix", "oxlbd".to_string())?;
            remove_stale(&prefix);
            // Kernel-mode pins (decapsulation, a datapath left by a killed
            // daemon) live on bpffs, outside the namespaces.
            for dir in [
                Path::new(lbnet::PIN_ROOT),
                &Path::new(lbnet::PIN_ROOT).join("lb"),
            ] {
                for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    if e.file_name().to_string_lossy().starts_with(&prefix) {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
            Ok(())
        }
        "serve" => {
            let name = rest.first().ok_or("serve: expected a NAME")?;
            let port: u16 = opt(rest, "--port", 80)?;
            let listener = lbnet::bind_http(port)?;
            println!("serving backend={name} on :{port}");
            let stop = AtomicBool::new(false);
            lbnet::serve(listener, name, &stop, Arc::new(ServerStats::default()));
            Ok(())
        }
        "client" => {
            let n: u32 = opt(rest, "--conns", 100)?;
            let mut per: BTreeMap<String, u32> = BTreeMap::new();
            let mut failed = 0u32;
            for _ in 0..n {
                match lbnet::request(lbnet::vip_addr(), Duration::from_secs(3)) {
                    Ok((_, body)) => *per.entry(body).or_default() += 1,
                    Err(e) => {
                        failed += 1;
                        eprintln!("{e}");
                    }
                }
            }
            if rest.iter().any(|a| a == "--json") {
                let items: Vec<String> = per.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                println!(
                    "{{\"requests\":{n},\"failed\":{failed},\"per_backend\":{{{}}}}}",
                    items.join(",")
                );
            } else {
                println!("{n} requests to {}, {failed} failed", lbnet::vip_addr());
                for (k, v) in &per {
                    println!("  {k:<14} {v}");
                }
            }
            if failed > 0 {
                return Err(format!("{failed} of {n} requests failed"));
            }
            Ok(())
        }
        "cps" => {
            let secs: f64 = opt(rest, "--seconds", 5.0)?;
            let threads: u32 = opt(rest, "--threads", 4)?;
            let done = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let end = start + Duration::from_secs_f64(secs);
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (done, failed) = (done.clone(), failed.clone());
                    std::thread::spawn(move || {
                        while Instant::now() < end {
                            match lbnet::request(lbnet::vip_addr(), Duration::from_secs(2)) {
                                Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                                Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    })
                })
                .collect();
            for h in handles {
                let _ = h.join();
            }
            let elapsed = start.elapsed().as_secs_f64();
            let d = done.load(Ordering::Relaxed);
            println!(
                "{{\"connections\":{d},\"failed\":{},\"seconds\":{elapsed:.3},\"cps\":{:.1}}}",
                failed.load(Ordering::Relaxed),
                d as f64 / elapsed
            );
            Ok(())
        }
        "fill" => fill(rest),
        _ => Err(USAGE.to_string()),
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("--nexthop-mac {s:?}: expected aa:bb:cc:dd:ee:ff"))?;
    v.try_into()
        .map_err(|_| format!("--nexthop-mac {s:?}: expected 6 bytes"))
}

/// `fill --pins DIR --nexthop-mac MAC --backends IP,IP,...`: the VIP
/// 10.200.0.1:80/tcp with those backends (weight 1), written with the
/// control-plane library into maps pinned by `oxbpf xdp attach --mode
/// kernel` (what `oxbpf lb run` does for a whole configuration).
fn fill(rest: &[String]) -> Result<(), String> {
    let pins = opt_str(rest, "--pins").ok_or("fill: --pins DIR is required")?;
    let mac = parse_mac(&opt_str(rest, "--nexthop-mac").ok_or("fill: --nexthop-mac is required")?)?;
    let list = opt_str(rest, "--backends").ok_or("fill: --backends is required")?;
    let backends: Vec<(std::net::IpAddr, u32)> = list
        .split(',')
        .map(|a| {
            a.parse()
                .map(|a| (a, 1))
                .map_err(|_| format!("--backends: {a:?} is not an address"))
        })
        .collect::<Result<_, _>>()?;
    let t = oxbpf_lb::daemon::PinnedMaps::open(std::path::Path::new(&pins))
        .map_err(|e| e.to_string())?;
    let mut lb = Balancer::new(GlobalConfig {
        nexthop_mac: mac,
        ..GlobalConfig::default()
    });
    let vip = Vip {
        addr: lbnet::VIP.into(),
        port: 80,
        proto: 6,
    };
    lb.write_global(&t).map_err(|e| e.to_string())?;
    lb.add_vip(&t, vip, VipOptions::default())
        .map_err(|e| e.to_string())?;
    let n = lb
        .set_backends(&t, &vip, &backends)
        .map_err(|e| e.to_string())?;
    println!(
        "vip {vip}: {} backends, {n} ring slots written",
        backends.len()
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("lb_netns: {e}");
        std::process::exit(1);
    }
}
