//! `oxbpf xdp attach IFACE FILE.o --mode userspace`: run an object's XDP
//! program on oxbpf's engines on a live interface until SIGINT/SIGTERM
//! (or `--duration`), printing live statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use oxbpf::userspace::{Backend, UserspaceConfig, UserspaceXdp};
use oxbpf::{EngineKind, Loader};
use oxbpf_kernel::XdpMode;
use oxbpf_xdp::steer::{SelectKey, Selection};
use oxbpf_xdp::worker::{CounterSnapshot, Verdict};
use oxbpf_xdp::xsk::BindRequest;
use serde_json::{Value, json};

use crate::error::{CliError, Result};

/// Options of the userspace mode.
#[derive(Debug, Args, Clone)]
pub struct UserspaceArgs {
    /// Receive queues to serve, one worker thread (and one CPU id for
    /// per-CPU maps) each. Default: every queue of the interface.
    #[arg(long, value_name = "N")]
    pub queues: Option<u32>,
    /// Take only these packets to userspace (the rest go to the kernel's
    /// stack untouched): PROTO[:PORT][@ADDR], e.g. `udp:9000@10.0.0.2`,
    /// `tcp:80`, `icmp`; repeatable; `all` takes every frame, ARP included.
    /// Default: all IP traffic (IPv4, and IPv6 except ICMPv6 neighbour
    /// discovery); ARP stays with the kernel.
    #[arg(long, value_name = "SPEC")]
    pub steer: Vec<String>,
    /// Packet source: `af_xdp` (kernel steering program + AF_XDP sockets),
    /// `af_packet` (a copy of every packet; the kernel still receives them
    /// all, so XDP_DROP cannot drop), or `auto` (AF_XDP, else AF_PACKET).
    #[arg(long, default_value = "auto", value_name = "SOURCE")]
    pub source: String,
    /// AF_XDP binding: `auto` (zero-copy if the driver has it), `copy`,
    /// `zero-copy`.
    #[arg(long, default_value = "auto", value_name = "BIND")]
    pub bind: String,
    /// Engine running the program: interp, interp-fast or jit.
    #[arg(long, default_value = "jit")]
    pub engine: String,
    /// Do not re-inject XDP_PASS packets into the kernel's stack (through
    /// a TAP device named oxp<ifindex>); count them as errors instead.
    #[arg(long)]
    pub no_pass: bool,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Seconds between statistics lines (0: only the totals).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
}

/// Set by the signal handler.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

fn parse_engine(name: &str) -> Result<EngineKind> {
    Ok(match name {
        "interp" => EngineKind::Interp,
        "interp-fast" => EngineKind::InterpFast,
        "jit" => EngineKind::Jit,
        other => {
            return Err(CliError::malformed(anyhow!(
                "engine '{other}' cannot run in userspace mode (interp, interp-fast or jit)"
            )));
        }
    })
}

/// Everything `xdp attach --mode userspace` needs besides [`UserspaceArgs`].
#[derive(Debug)]
pub struct Target<'a> {
    pub iface: &'a str,
    pub file: &'a std::path::Path,
    pub prog: Option<&'a str>,
    pub xdp_mode: XdpMode,
    pub maps_in: Option<&'a std::path::Path>,
    pub maps_out: Option<&'a std::path::Path>,
    pub json: bool,
}

fn snapshot_json(s: &CounterSnapshot) -> Value {
    let mut packets = serde_json::Map::new();
    let mut bytes = serde_json::Map::new();
    for (i, name) in Verdict::NAMES.iter().enumerate() {
        packets.insert((*name).into(), s.packets[i].into());
        bytes.insert((*name).into(), s.bytes[i].into());
    }
    json!({"packets": packets, "bytes": bytes, "errors": s.errors})
}

fn snapshot_line(s: &CounterSnapshot, secs: f64) -> String {
    let mut parts = Vec::new();
    for (i, name) in Verdict::NAMES.iter().enumerate() {
        if s.packets[i] > 0 {
            let short = name.trim_start_matches("XDP_").to_lowercase();
            if secs > 0.0 {
                parts.push(format!(
                    "{short} {} pkt/s {} B/s",
                    (s.packets[i] as f64 / secs).round(),
                    (s.bytes[i] as f64 / secs).round()
                ));
            } else {
                parts.push(format!(
                    "{short} {} pkts {} bytes",
                    s.packets[i], s.bytes[i]
                ));
            }
        }
    }
    if s.errors > 0 {
        parts.push(format!("errors {}", s.errors));
    }
    if parts.is_empty() {
        "idle".into()
    } else {
        parts.join(", ")
    }
}

/// The engine of `--engine`.
pub fn engine_of(args: &UserspaceArgs) -> Result<EngineKind> {
    parse_engine(&args.engine)
}

/// The worker configuration of `args` (packet source, binding, steering)
/// for `queues` queues; shared by `xdp attach --mode userspace` and `lb
/// run --mode userspace`.
pub fn userspace_config(
    args: &UserspaceArgs,
    queues: u32,
    xdp_mode: XdpMode,
) -> Result<UserspaceConfig> {
    let backend = match args.source.as_str() {
        "auto" => Backend::Auto,
        "af_xdp" => Backend::AfXdp,
        "af_packet" => Backend::AfPacket,
        other => {
            return Err(CliError::malformed(anyhow!(
                "--source {other:?}: expected af_xdp, af_packet or auto"
            )));
        }
    };
    let bind = match args.bind.as_str() {
        "auto" => BindRequest::Auto,
        "copy" => BindRequest::Copy,
        "zero-copy" => BindRequest::ZeroCopy,
        other => {
            return Err(CliError::malformed(anyhow!(
                "--bind {other:?}: expected auto, copy or zero-copy"
            )));
        }
    };
    let selection = if args.steer.is_empty() {
        Selection::Ip
    } else if args.steer.iter().any(|s| s == "all") {
        Selection::All
    } else {
        Selection::Match(
            args.steer
                .iter()
                .map(|s| SelectKey::parse(s))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?,
        )
    };
    Ok(UserspaceConfig {
        backend,
        queues: Some(queues),
        selection,
        steer_mode: xdp_mode,
        bind,
        pass_to_stack: !args.no_pass,
    })
}

/// Runs the program in userspace on `t.iface` until stopped.
pub fn attach(t: &Target<'_>, args: &UserspaceArgs) -> Result<()> {
    let engine = parse_engine(&args.engine)?;
    let queues = args
        .queues
        .unwrap_or_else(|| oxbpf::userspace::rx_queues(t.iface));
    let cfg = userspace_config(args, queues, t.xdp_mode)?;
    let obj = Loader::new()
        .ncpus(queues.max(1))
        .load_file(t.file)
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("cannot load the object")))?;
    let names = obj.program_names();
    let name = crate::cmd::pick_program(t.file, &names, t.prog)?;
    if let Some(path) = t.maps_in {
        crate::cmd::run_object::load_maps(&obj, path)?;
    }
    let runner = Arc::new(
        obj.program(&name)
            .and_then(|p| p.load(engine))
            .map_err(|e| CliError::failed(anyhow::Error::new(e)))?,
    );
    install_signal_handlers();
    let running = UserspaceXdp::attach(runner, t.iface, &cfg)
        .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
    let info = running.info().clone();
    if let Some(why) = &info.fallback_reason {
        eprintln!(
            "warning: AF_XDP unavailable, using AF_PACKET (the kernel sees every packet): {why}"
        );
    }
    if t.json {
        crate::cmd::print_json(&json!({
            "event": "attached",
            "iface": info.iface,
            "mode": "userspace",
            "queues": info.queues,
            "source": info.source,
            "steering_link": info.steering_link,
            "pass_tap": info.pass_tap,
            "fallback_reason": info.fallback_reason,
        }))?;
    } else {
        println!(
            "attached {} mode=userspace queues={} source={}{}",
            info.iface,
            info.queues,
            info.source,
            info.pass_tap
                .as_deref()
                .map(|t| format!(" pass-via={t}"))
                .unwrap_or_default()
        );
    }
    let start = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    let interval = (args.interval > 0.0).then(|| Duration::from_secs_f64(args.interval));
    let mut last = running.counters();
    let mut last_at = Instant::now();
    while !STOP.load(Ordering::Relaxed) && deadline.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(50));
        let Some(iv) = interval else { continue };
        if last_at.elapsed() < iv {
            continue;
        }
        let now = running.counters();
        let secs = last_at.elapsed().as_secs_f64();
        last_at = Instant::now();
        if t.json {
            let workers: Vec<Value> = now
                .iter()
                .zip(&last)
                .enumerate()
                .map(|(q, (n, l))| {
                    let mut v = snapshot_json(&n.since(l));
                    v["queue"] = q.into();
                    v
                })
                .collect();
            crate::cmd::print_json(&json!({
                "event": "stats",
                "elapsed": start.elapsed().as_secs_f64(),
                "interval": secs,
                "workers": workers,
            }))?;
        } else {
            for (q, (n, l)) in now.iter().zip(&last).enumerate() {
                println!("q{q}: {}", snapshot_line(&n.since(l), secs));
            }
        }
        last = now;
    }
    let finals = running.stop();
    let mut total = CounterSnapshot::default();
    for f in &finals {
        total.add(f);
    }
    if t.json {
        crate::cmd::print_json(&json!({
            "event": "detached",
            "iface": info.iface,
            "elapsed": start.elapsed().as_secs_f64(),
            "totals": snapshot_json(&total),
            "workers": finals.iter().map(snapshot_json).collect::<Vec<_>>(),
        }))?;
    } else {
        println!(
            "detached {} after {:.1}s: {}",
            info.iface,
            start.elapsed().as_secs_f64(),
            snapshot_line(&total, 0.0)
        );
    }
    if let Some(path) = t.maps_out {
        crate::cmd::run_object::write_state(&obj, path)?;
    }
    Ok(())
}
