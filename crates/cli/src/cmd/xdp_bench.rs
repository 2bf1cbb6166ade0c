//! `oxbpf xdp bench FILE.o...`: packets per second an XDP program handles
//! in userspace (oxbpf's engine behind AF_XDP) and in the kernel, under the
//! same generator, measured in one run.
//!
//! The command builds its own pair of network namespaces joined by a veth
//! (removed at the end): the generator sends from the client side as fast
//! as it can; on the server side each object is attached in each mode in
//! turn. Handled packets are counted by oxbpf's workers (userspace) and by
//! the kernel's own statistics for the program (`run_cnt`, with
//! `kernel.bpf_stats_enabled` switched on for the run and restored).

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf::userspace::{Backend, UserspaceConfig, UserspaceXdp};
use oxbpf::{EngineKind, Loader};
use oxbpf_kernel::{KernelObject, LoadOptions, XdpLink};
use oxbpf_xdp::steer::Selection;
use oxbpf_xdp::tap::Tap;
use oxbpf_xdp::traffic::{GenConfig, MixEntry, build_all, send};
use oxbpf_xdp::xsk::BindRequest;
use serde_json::json;

use crate::cmd::xdp::XdpModeArg;
use crate::error::{CliError, Result};

/// Options of `oxbpf xdp bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  scripts/xdp-bench.sh                      # builds the programs, runs this
  oxbpf xdp bench drop.o count.o xdp_tx.o --duration 5

Needs root. Creates and removes network namespaces named oxbench<pid>[cs].
Build oxbpf with --release for meaningful userspace figures.")]
pub struct BenchArgs {
    /// XDP objects (one program each, or the first program).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Seconds of traffic per program and mode.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Packet mix for the generator (see `oxbpf xdp gen --help`).
    #[arg(long, default_value = "udp:64")]
    pub mix: String,
    /// Flows in the mix.
    #[arg(long, default_value_t = 64)]
    pub flows: u16,
    /// Engine for userspace mode.
    #[arg(long, default_value = "jit")]
    pub engine: String,
    /// How XDP attaches (the kernel-mode program and the steering program).
    #[arg(long = "xdp-mode", value_enum, default_value = "generic")]
    pub xdp_mode: XdpModeArg,
    /// One JSON object per measurement instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("ip {}", args.join(" ")))?;
    if !out.status.success() {
        return Err(anyhow!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

struct Namespaces {
    client: String,
    server: String,
    client_if: String,
    server_if: String,
}

impl Namespaces {
    fn create() -> anyhow::Result<Namespaces> {
        let p = format!("oxbench{}", std::process::id() % 100_000);
        let n = Namespaces {
            client: format!("{p}c"),
            server: format!("{p}s"),
            client_if: format!("{p}c0"),
            server_if: format!("{p}s0"),
        };
        let _ = ip(&["netns", "del", &n.client]);
        let _ = ip(&["netns", "del", &n.server]);
        ip(&["netns", "add", &n.client])?;
        ip(&["netns", "add", &n.server])?;
        ip(&[
            "link",
            "add",
            &n.client_if,
            "netns",
            &n.client,
            "type",
            "veth",
            "peer",
            "name",
            &n.server_if,
            "netns",
            &n.server,
        ])?;
        ip(&[
            "-n",
            &n.client,
            "addr",
            "add",
            "10.80.0.1/24",
            "dev",
            &n.client_if,
        ])?;
        ip(&[
            "-n",
            &n.server,
            "addr",
            "add",
            "10.80.0.2/24",
            "dev",
            &n.server_if,
        ])?;
        ip(&["-n", &n.client, "link", "set", &n.client_if, "up"])?;
        ip(&["-n", &n.server, "link", "set", &n.server_if, "up"])?;
        Ok(n)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.client]);
        let _ = ip(&["netns", "del", &self.server]);
    }
}

fn enter(ns: &str) -> anyhow::Result<()> {
    let path = format!("/var/run/netns/{ns}");
    let f = std::fs::File::open(&path).with_context(|| path.clone())?;
    // SAFETY: setns on a namespace fd we opened; affects this thread only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(anyhow!("setns {path}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// One measurement.
#[derive(Debug, Clone)]
struct Row {
    program: String,
    mode: &'static str,
    sent_pps: f64,
    handled_pps: f64,
    workers: u32,
}

/// Restores `kernel.bpf_stats_enabled` on drop.
struct BpfStats(Option<String>);

impl BpfStats {
    fn enable() -> BpfStats {
        const P: &str = "/proc/sys/kernel/bpf_stats_enabled";
        let old = std::fs::read_to_string(P).ok();
        let _ = std::fs::write(P, "1");
        BpfStats(old)
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", old.trim());
        }
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let engine = match args.engine.as_str() {
        "interp" => EngineKind::Interp,
        "interp-fast" => EngineKind::InterpFast,
        "jit" => EngineKind::Jit,
        other => return Err(CliError::malformed(anyhow!("unknown engine {other:?}"))),
    };
    let mix = args
        .mix
        .split(',')
        .map(MixEntry::parse)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    let ns = Namespaces::create().map_err(CliError::failed)?;
    let _stats = BpfStats::enable();
    let server_mac = {
        let (s, i) = (ns.server.clone(), ns.server_if.clone());
        std::thread::spawn(move || -> anyhow::Result<[u8; 6]> {
            enter(&s)?;
            Ok(Tap::mac_of(&i)?)
        })
        .join()
        .map_err(|_| CliError::failed(anyhow!("thread panicked")))?
        .map_err(CliError::failed)?
    };
    let client_mac = {
        let (c, i) = (ns.client.clone(), ns.client_if.clone());
        std::thread::spawn(move || -> anyhow::Result<[u8; 6]> {
            enter(&c)?;
            Ok(Tap::mac_of(&i)?)
        })
        .join()
        .map_err(|_| CliError::failed(anyhow!("thread panicked")))?
        .map_err(CliError::failed)?
    };
    let gen_cfg = GenConfig {
        src_mac: client_mac,
        dst_mac: server_mac,
        src_ip: "10.80.0.1".parse().expect("literal address"),
        dst_ip: "10.80.0.2".parse().expect("literal address"),
        dst_port: 9000,
        flows: args.flows.max(1),
        mix,
    };
    let packets = Arc::new(build_all(&gen_cfg));
    let duration = Duration::from_secs_f64(args.duration);
    let mut rows = Vec::new();
    if !args.json {
        println!(
            "{:<16} {:<10} {:>8} {:>14} {:>14} {:>16}",
            "program", "mode", "workers", "sent pkt/s", "handled pkt/s", "per worker"
        );
    }
    for file in &args.files {
        for mode in ["userspace", "kernel"] {
            let row = measure(args, &ns, file, mode, engine, &packets, duration).map_err(|e| {
                CliError::failed(e.context(format!("{} in {mode} mode", file.display())))
            })?;
            if args.json {
                crate::cmd::print_json(&json!({
                    "program": row.program, "mode": row.mode, "workers": row.workers,
                    "sent_pps": row.sent_pps, "handled_pps": row.handled_pps,
                    "per_worker_pps": row.handled_pps / f64::from(row.workers.max(1)),
                }))?;
            } else {
                println!(
                    "{:<16} {:<10} {:>8} {:>14.0} {:>14.0} {:>16.0}",
                    row.program,
                    row.mode,
                    row.workers,
                    row.sent_pps,
                    row.handled_pps,
                    row.handled_pps / f64::from(row.workers.max(1))
                );
            }
            rows.push(row);
        }
    }
    if !args.json {
        println!();
        for pair in rows.chunks(2) {
            if let [u, k] = pair {
                println!(
                    "{:<16} userspace/kernel handled: {:.2}x",
                    u.program,
                    u.handled_pps / k.handled_pps.max(1.0)
                );
            }
        }
    }
    Ok(())
}

fn measure(
    args: &BenchArgs,
    ns: &Namespaces,
    file: &std::path::Path,
    mode: &'static str,
    engine: EngineKind,
    packets: &Arc<Vec<Vec<u8>>>,
    duration: Duration,
) -> anyhow::Result<Row> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<(String, u32)>>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (server, iface, xdp_mode) = (ns.server.clone(), ns.server_if.clone(), args.xdp_mode);
    // The attached side: counts handled packets between "ready" and "done".
    let attached = std::thread::spawn(move || -> anyhow::Result<u64> {
        let setup = || -> anyhow::Result<_> {
            enter(&server)?;
            let obj = Loader::new().ncpus(1).load(&bytes)?;
            let name = obj
                .program_names()
                .first()
                .map(|s| s.to_string())
                .ok_or_else(|| anyhow!("no program in the object"))?;
            Ok((obj, name))
        };
        let (obj, name) = match setup() {
            Ok(v) => v,
            Err(e) => {
                let _ = ready_tx.send(Err(anyhow!("{e:#}")));
                return Err(e);
            }
        };
        if mode == "userspace" {
            let runner = Arc::new(obj.program(&name)?.load(engine)?);
            let cfg = UserspaceConfig {
                backend: Backend::AfXdp,
                queues: Some(1),
                selection: Selection::Ip,
                steer_mode: xdp_mode.into(),
                bind: BindRequest::Auto,
                pass_to_stack: true,
            };
            let running = match UserspaceXdp::attach(runner, &iface, &cfg) {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(anyhow!("{e}")));
                    return Err(e.into());
                }
            };
            let before: u64 = running.counters().iter().map(|c| c.total_packets()).sum();
            let _ = ready_tx.send(Ok((name, 1)));
            let _ = done_rx.recv();
            let after: u64 = running.counters().iter().map(|c| c.total_packets()).sum();
            drop(running.stop());
            Ok(after - before)
        } else {
            let parsed = oxbpf_object::Object::parse(&bytes)?;
            let kobj = match KernelObject::load_with(&parsed, &LoadOptions::default()) {
                Ok(k) => k,
                Err(e) => {
                    let _ = ready_tx.send(Err(anyhow!("{e}")));
                    return Err(e.into());
                }
            };
            let prog = kobj
                .program(&name)
                .ok_or_else(|| anyhow!("program {name} not loaded"))?;
            let index = oxbpf_xdp::xsk::ifindex(&iface)?;
            let link = XdpLink::attach(prog, index, xdp_mode.into())?;
            let before = prog.info()?.run_cnt;
            let _ = ready_tx.send(Ok((name, 1)));
            let _ = done_rx.recv();
            let after = prog.info()?.run_cnt;
            drop(link);
            Ok(after - before)
        }
    });
    let (program, workers) = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow!("the program did not attach within 30 s"))??;
    // Let the first packets (ARP, steering warm-up) through.
    std::thread::sleep(Duration::from_millis(300));
    let (client, client_if, pk) = (ns.client.clone(), ns.client_if.clone(), packets.clone());
    let sent = std::thread::spawn(move || -> anyhow::Result<u64> {
        enter(&client)?;
        let stop = AtomicBool::new(false);
        Ok(send(&client_if, &pk, Some(duration), None, None, &stop)?.packets)
    })
    .join()
    .map_err(|_| anyhow!("generator panicked"))??;
    // Packets still in flight when the generator stops.
    std::thread::sleep(Duration::from_millis(200));
    let _ = done_tx.send(());
    let handled = attached
        .join()
        .map_err(|_| anyhow!("attached side panicked"))??;
    Ok(Row {
        program,
        mode,
        sent_pps: sent as f64 / duration.as_secs_f64(),
        // Packets handled after the generator stopped were sent during it.
        handled_pps: handled as f64 / duration.as_secs_f64(),
        workers,
    })
}
