//! `oxbpf lb`: the load-balancer daemon (`run`) and its clients (`vip`,
//! `backend`, `stats`, `reload`, `stop`), which talk to the daemon's
//! HTTP/JSON API on a Unix socket. The daemon itself is a library
//! (`oxbpf_lb::daemon`); this file attaches the datapath and runs the
//! loop.

use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use oxbpf::Loader;
use oxbpf::userspace::UserspaceXdp;
use oxbpf_kernel::pin::ensure_bpffs;
use oxbpf_kernel::{KernelObject, LoadOptions, XdpLink};
use oxbpf_lb::daemon::api::{Shared, serve_conn};
use oxbpf_lb::daemon::client::{self, Endpoint, vip_path};
use oxbpf_lb::daemon::config::{LbConfig, parse_vip};
use oxbpf_lb::daemon::health::Monitor;
use oxbpf_lb::daemon::state::{Daemon, DaemonInfo};
use oxbpf_lb::daemon::{self as lbd, Datapath, PinnedMaps};
use serde_json::{Value, json};

use crate::cmd::xdp::XdpModeArg;
use crate::cmd::xdp_kernel::remove_pins;
use crate::cmd::xdp_user::{self, UserspaceArgs};
use crate::error::{CliError, Result};

/// Run the load balancer, or talk to a running one.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf lb run --config lb.yaml --iface eth0                    # kernel mode
  oxbpf lb run --config lb.yaml --iface eth0 --mode userspace --listen 127.0.0.1:9180
  oxbpf lb vip add 10.200.0.1:80/tcp --iface eth0
  oxbpf lb backend add 10.200.0.1:80/tcp 10.201.0.2 --weight 2 --health-tcp 80 --iface eth0
  oxbpf lb backend drain 10.200.0.1:80/tcp 10.201.0.2 --iface eth0
  oxbpf lb stats --watch --iface eth0
  oxbpf lb stop --iface eth0

The daemon serves HTTP/1.1 + JSON on /run/oxbpf/lb-IFACE.sock (--api) and,
with --listen, on TCP too (also /metrics for Prometheus). SIGHUP reloads the
configuration file and applies the difference; a bad file is refused and
the running state kept. In kernel mode the datapath stays attached and
pinned under /sys/fs/bpf/oxbpf/lb/IFACE/ when the daemon stops; the next
`lb run` adopts it (maps, connection tables and rings), so no established
flow moves. `lb stop` (or `run --detach-on-exit`) removes it.")]
pub struct LbArgs {
    #[command(subcommand)]
    pub command: LbCommand,
}

#[derive(Debug, Subcommand)]
pub enum LbCommand {
    /// Run the daemon on an interface until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Stop the daemon on IFACE and remove its kernel datapath.
    Stop(StopArgs),
    /// Check a configuration file and print what it configures.
    Check(CheckArgs),
    /// VIPs: add, del, list.
    Vip(VipArgs),
    /// Backends of a VIP: add, del, set-weight, drain, list.
    Backend(BackendArgs),
    /// Counters per VIP and backend, connection table, drops.
    Stats(StatsArgs),
    /// Make the daemon re-read its configuration file (as SIGHUP).
    Reload(ApiArgs),
}

/// Where the datapath runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LbMode {
    /// In the kernel (pinned; survives daemon restarts).
    Kernel,
    /// On oxbpf's engines fed by AF_XDP workers.
    Userspace,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (YAML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The interface the datapath attaches to.
    #[arg(long)]
    pub iface: String,
    /// Where the datapath runs.
    #[arg(long, value_enum, default_value = "kernel")]
    pub mode: LbMode,
    /// The API socket (default /run/oxbpf/lb-IFACE.sock).
    #[arg(long, value_name = "PATH")]
    pub api: Option<PathBuf>,
    /// Also serve the API and /metrics over TCP on ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// The datapath object (default: the built-in apps/lb/bpf/balancer.bpf.c,
    /// compiled with clang into --cache-dir).
    #[arg(long, value_name = "FILE.o")]
    pub object: Option<PathBuf>,
    /// Where the built-in datapath is compiled to.
    #[arg(long, value_name = "DIR", default_value = "/var/cache/oxbpf/lb")]
    pub cache_dir: PathBuf,
    /// Kernel mode: detach and unpin the datapath when the daemon stops
    /// (default: leave it running for the next daemon to adopt).
    #[arg(long)]
    pub detach_on_exit: bool,
    /// Write changes made through the API back to the configuration file
    /// (rewritten whole, comments lost), so a restart or a SIGHUP keeps
    /// them. Without it the file wins: a reload or restart undoes them.
    #[arg(long)]
    pub write_back: bool,
    /// How the kernel attaches XDP (the datapath in kernel mode, the
    /// steering program in userspace mode).
    #[arg(long = "xdp-mode", value_enum, default_value = "auto")]
    pub xdp_mode: XdpModeArg,
    #[command(flatten)]
    pub user: UserspaceArgs,
}

/// How clients find the daemon.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// The daemon's API: a Unix socket path, or tcp://HOST:PORT.
    #[arg(long, value_name = "PATH")]
    pub api: Option<String>,
    /// The interface the daemon runs on (its socket is
    /// /run/oxbpf/lb-IFACE.sock).
    #[arg(long)]
    pub iface: Option<String>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl ApiArgs {
    fn endpoint(&self) -> Result<Endpoint> {
        match (&self.api, &self.iface) {
            (Some(a), _) => Ok(
                match a
                    .strip_prefix("tcp://")
                    .or_else(|| a.strip_prefix("http://"))
                {
                    Some(hp) => Endpoint::Tcp(hp.trim_end_matches('/').to_string()),
                    None => Endpoint::Unix(PathBuf::from(a)),
                },
            ),
            (None, Some(i)) => Ok(Endpoint::Unix(lbd::default_socket(i))),
            (None, None) => Err(CliError::malformed(anyhow!(
                "say which daemon: --iface IFACE or --api PATH"
            ))),
        }
    }
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The interface.
    #[arg(long)]
    pub iface: String,
    /// The daemon's API socket (default /run/oxbpf/lb-IFACE.sock).
    #[arg(long, value_name = "PATH")]
    pub api: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VipArgs {
    #[command(subcommand)]
    pub command: VipCommand,
}

#[derive(Debug, Subcommand)]
pub enum VipCommand {
    /// Add VIP (ADDRESS:PORT/PROTO, e.g. 10.200.0.1:80/tcp).
    Add {
        /// The VIP.
        vip: String,
        /// src_only, all_ports or quic (repeatable).
        #[arg(long = "flag", value_name = "FLAG")]
        flags: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove VIP.
    Del {
        /// The VIP.
        vip: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the VIPs.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, Args)]
pub struct BackendArgs {
    #[command(subcommand)]
    pub command: BackendCommand,
}

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Add a backend to VIP (or replace the one with that address).
    Add {
        /// The VIP.
        vip: String,
        /// The backend's address.
        address: String,
        /// Its weight.
        #[arg(long, default_value_t = 1)]
        weight: u32,
        /// Health check: TCP connect to this port.
        #[arg(long, value_name = "PORT")]
        health_tcp: Option<u16>,
        /// Health check: HTTP GET of this URL (2xx/3xx is healthy).
        #[arg(long, value_name = "URL", conflicts_with = "health_tcp")]
        health_http: Option<String>,
        /// QUIC server id routed to it.
        #[arg(long, value_name = "ID")]
        quic_server_id: Option<u16>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove a backend from VIP.
    Del {
        /// The VIP.
        vip: String,
        /// The backend's address.
        address: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set a backend's weight (0 drains).
    SetWeight {
        /// The VIP.
        vip: String,
        /// The backend's address.
        address: String,
        /// The weight.
        weight: u32,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Drain a backend: weight 0; its established flows stay.
    Drain {
        /// The VIP.
        vip: String,
        /// The backend's address.
        address: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the backends of VIP.
    List {
        /// The VIP.
        vip: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print again every SECONDS (default 1) until interrupted.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "1")]
    pub watch: Option<f64>,
    #[command(flatten)]
    pub api: ApiArgs,
}

pub fn run(args: &LbArgs) -> Result<()> {
    match &args.command {
        LbCommand::Run(a) => run_daemon(a),
        LbCommand::Stop(a) => stop(a),
        LbCommand::Check(a) => check(a),
        LbCommand::Vip(v) => vip(&v.command),
        LbCommand::Backend(b) => backend(&b.command),
        LbCommand::Stats(s) => stats(s),
        LbCommand::Reload(a) => {
            let v = call(a, "POST", "/v1/reload", None)?;
            print_result(
                a.json,
                &v,
                &format!("reloaded ({} ring slots written)", v["slots_written"]),
            )
        }
    }
}

// ----- the daemon -----

static STOP: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

extern "C" fn on_hup(_: libc::c_int) {
    HUP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() {
    for (sig, h) in [
        (libc::SIGINT, on_stop as extern "C" fn(libc::c_int)),
        (libc::SIGTERM, on_stop),
        (libc::SIGHUP, on_hup),
    ] {
        // SAFETY: the handlers only store to atomics, which is
        // async-signal-safe.
        unsafe {
            libc::signal(sig, h as *const () as libc::sighandler_t);
        }
    }
}

/// The ifindex the pinned XDP link is attached to (0 once its interface
/// is gone).
fn pinned_link_ifindex(link: &Path) -> Option<u32> {
    let fd = oxbpf_kernel::sys::obj_get(link).ok()?;
    let (info, _) =
        oxbpf_kernel::sys::obj_get_info::<oxbpf_kernel::sys::attr::BpfLinkInfo>(fd.as_fd()).ok()?;
    Some(info.union[0])
}

/// The datapath object: `--object`, or the built-in one compiled.
fn datapath_object(a: &RunArgs, cfg: &LbConfig) -> Result<PathBuf> {
    match &a.object {
        Some(p) => Ok(p.clone()),
        None => lbd::build_datapath(&a.cache_dir, cfg.global.ring_size)
            .map_err(|e| CliError::failed(anyhow::Error::new(e))),
    }
}

/// Kernel mode: adopts the pinned datapath of `iface` if there is a live
/// one, else loads, attaches and pins a new one. Returns the maps and
/// whether they were adopted.
fn kernel_datapath(a: &RunArgs, cfg: &LbConfig) -> Result<(Arc<dyn Datapath>, bool)> {
    let failed = |e: anyhow::Error| CliError::failed(e);
    ensure_bpffs().map_err(|e| failed(anyhow::Error::new(e).context("bpf filesystem")))?;
    let dir = lbd::pin_dir(&a.iface);
    let ifindex = oxbpf_xdp::xsk::ifindex(&a.iface)
        .map_err(|e| failed(anyhow::Error::new(e).context(a.iface.clone())))?;
    let link_pin = dir.join("link");
    if link_pin.exists() {
        if pinned_link_ifindex(&link_pin) == Some(ifindex) {
            let maps = PinnedMaps::open(&dir.join("maps"))
                .map_err(|e| failed(anyhow::Error::new(e).context("adopt the pinned maps")))?;
            return Ok((Arc::new(maps), true));
        }
        // The interface was re-created (or the link detached): the pins
        // are stale.
        eprintln!(
            "lb: removing stale pins under {} (their link is not on {})",
            dir.display(),
            a.iface
        );
        remove_pins(&dir).map_err(failed)?;
    } else if dir.exists() {
        remove_pins(&dir).map_err(failed)?;
    }
    let path = datapath_object(a, cfg)?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let obj = oxbpf_object::Object::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(path.display().to_string()))
    })?;
    let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
    let name = crate::cmd::pick_program(&path, &names, None)?;
    let kobj = KernelObject::load_with(&obj, &LoadOptions::default())
        .map_err(|e| failed(anyhow::Error::new(e).context("the kernel refused the datapath")))?;
    let prog = kobj
        .program(&name)
        .ok_or_else(|| failed(anyhow!("no program {name} after loading")))?;
    let link = XdpLink::attach(prog, ifindex, a.xdp_mode.into())
        .map_err(|e| failed(anyhow::Error::new(e).context(format!("attach to {}", a.iface))))?;
    let pin_all = || -> anyhow::Result<()> {
        std::fs::create_dir_all(dir.join("maps"))?;
        for (mname, m) in kobj.maps() {
            m.pin(&dir.join("maps").join(mname))?;
        }
        prog.pin(&dir.join("prog"))?;
        // The link last: its pin is what says "a datapath is here".
        link.pin(&link_pin)?;
        Ok(())
    };
    if let Err(e) = pin_all() {
        let _ = remove_pins(&dir);
        return Err(failed(e.context(format!("pin under {}", dir.display()))));
    }
    drop(link);
    Ok((Arc::new(kobj), false))
}

/// Binds the API socket, refusing if a live daemon answers there.
fn bind_socket(path: &Path) -> Result<UnixListener> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(CliError::failed(anyhow!(
                "a daemon already answers on {} (stop it with `oxbpf lb stop`)",
                path.display()
            )));
        }
        std::fs::remove_file(path).with_context(|| format!("remove stale {}", path.display()))?;
    }
    UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))
        .map_err(CliError::failed)
}

/// How long the API waits for a client's request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Logs changes made through the API (reads are not logged).
fn log_request((method, path, status): (String, String, u16)) {
    if method != "GET" {
        eprintln!("lb: api: {method} {path} -> {status}");
    }
}

fn run_daemon(a: &RunArgs) -> Result<()> {
    let cfg = LbConfig::from_file(&a.config).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(a.config.display().to_string()))
    })?;
    let api_path = a
        .api
        .clone()
        .unwrap_or_else(|| lbd::default_socket(&a.iface));
    // Bound before the datapath changes, so a second daemon is refused
    // without touching the first one's datapath.
    let unix = bind_socket(&api_path)?;
    let tcp = match &a.listen {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr}"))
                .map_err(CliError::failed)?,
        ),
        None => None,
    };
    install_signal_handlers();
    let mut running: Option<UserspaceXdp> = None;
    let (dp, adopted): (Arc<dyn Datapath>, bool) = match a.mode {
        LbMode::Kernel => kernel_datapath(a, &cfg)?,
        LbMode::Userspace => {
            let engine = xdp_user::engine_of(&a.user)?;
            let queues = a
                .user
                .queues
                .unwrap_or_else(|| oxbpf::userspace::rx_queues(&a.iface));
            let ucfg = xdp_user::userspace_config(&a.user, queues, a.xdp_mode.into())?;
            let path = datapath_object(a, &cfg)?;
            let obj = Loader::new()
                .ncpus(queues.max(1))
                .load_file(&path)
                .map_err(|e| {
                    CliError::failed(anyhow::Error::new(e).context("cannot load the datapath"))
                })?;
            let names = obj.program_names();
            let name = crate::cmd::pick_program(&path, &names, None)?;
            let runner = obj
                .program(&name)
                .and_then(|p| p.load(engine))
                .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
            let dp: Arc<dyn Datapath> = Arc::new(obj);
            // The maps are filled before the first packet: the daemon
            // starts on them below, before the workers see traffic that
            // matters (until then every packet passes: no VIP matches).
            let xdp = UserspaceXdp::attach(Arc::new(runner), &a.iface, &ucfg)
                .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
            if let Some(why) = &xdp.info().fallback_reason {
                eprintln!("lb: warning: AF_XDP unavailable, using AF_PACKET: {why}");
            }
            running = Some(xdp);
            (dp, false)
        }
    };
    let mode = match a.mode {
        LbMode::Kernel => "kernel",
        LbMode::Userspace => "userspace",
    };
    let info = DaemonInfo {
        iface: a.iface.clone(),
        mode: mode.into(),
        api: api_path.display().to_string(),
    };
    let daemon = Daemon::start(dp, cfg, adopted, info).map_err(|e| {
        let ctx = if adopted {
            format!(
                "cannot apply the configuration to the adopted datapath of {} (`oxbpf lb stop --iface {}` removes it)",
                a.iface, a.iface
            )
        } else {
            "cannot apply the configuration".to_string()
        };
        CliError::failed(anyhow::Error::new(e).context(ctx))
    })?;
    if adopted {
        eprintln!(
            "lb: adopted the pinned datapath of {} ({} vips, {} backends)",
            a.iface, daemon.adopted.vips, daemon.adopted.backends
        );
    }
    let (nv, nb) = daemon.counts();
    let shared = Arc::new(Shared::new(daemon, Some(a.config.clone())));
    {
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in unix.incoming().flatten() {
                // A client that stalls does not keep its thread forever.
                let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
                let sh = Arc::clone(&sh);
                std::thread::spawn(move || log_request(serve_conn(&sh, conn)));
            }
        });
    }
    if let Some(l) = tcp {
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
                let sh = Arc::clone(&sh);
                std::thread::spawn(move || log_request(serve_conn(&sh, conn)));
            }
        });
    }
    let (tx, rx) = channel();
    let monitor = Mutex::new(Monitor::new(tx));
    monitor
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sync(shared.lock().wanted_checks());
    println!(
        "lb: ready iface={} mode={mode} api={} vips={nv} backends={nb}",
        a.iface,
        api_path.display()
    );
    let _ = std::io::stdout().flush();
    let mut written = shared.lock().config().clone();
    // `--duration` (of the userspace options) bounds any mode's run.
    let started = Instant::now();
    let deadline = a.user.duration.map(Duration::from_secs_f64);
    while !STOP.load(Ordering::Relaxed)
        && !shared.shutdown.load(Ordering::Relaxed)
        && deadline.is_none_or(|d| started.elapsed() < d)
    {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => {
                let r = shared.lock().set_health(&ev.vip, ev.addr, ev.healthy);
                let state = if ev.healthy { "healthy" } else { "unhealthy" };
                let why = ev.reason.map(|r| format!(" ({r})")).unwrap_or_default();
                match r {
                    Ok(n) => eprintln!(
                        "lb: {} backend {} is {state}{why}; {n} ring slots written",
                        oxbpf_lb::daemon::config::vip_string(&ev.vip),
                        ev.addr
                    ),
                    Err(e) => eprintln!("lb: applying health of {}: {e}", ev.addr),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {}
        }
        if HUP.swap(false, Ordering::Relaxed) {
            match shared.reload() {
                Ok(n) => {
                    let (v, b) = shared.lock().counts();
                    eprintln!(
                        "lb: reloaded {}: vips={v} backends={b}, {n} ring slots written",
                        a.config.display()
                    );
                }
                Err(e) => eprintln!(
                    "lb: reload of {} refused, running state kept: {e}",
                    a.config.display()
                ),
            }
        }
        if a.write_back {
            let now = shared.lock().config().clone();
            if now != written {
                match write_config(&a.config, &now) {
                    Ok(()) => eprintln!(
                        "lb: wrote the running configuration to {}",
                        a.config.display()
                    ),
                    Err(e) => eprintln!("lb: cannot write {}: {e:#}", a.config.display()),
                }
                written = now;
            }
        }
        let wanted = shared.lock().wanted_checks();
        monitor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync(wanted);
    }
    let _ = std::fs::remove_file(&api_path);
    if let Some(x) = running {
        x.stop();
    }
    let detach = a.detach_on_exit || shared.detach.load(Ordering::Relaxed);
    if a.mode == LbMode::Kernel {
        let dir = lbd::pin_dir(&a.iface);
        if detach {
            remove_pins(&dir).map_err(CliError::failed)?;
            println!("lb: stopped iface={} (datapath detached)", a.iface);
        } else {
            println!(
                "lb: stopped iface={} (datapath left attached, pinned at {})",
                a.iface,
                dir.display()
            );
        }
    } else {
        println!("lb: stopped iface={} (userspace workers ended)", a.iface);
    }
    Ok(())
}

/// Replaces the configuration file with `cfg` (a new file renamed over
/// it, so a reader never sees half of it).
fn write_config(path: &Path, cfg: &LbConfig) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let text = format!(
        "# written by `oxbpf lb run --write-back`: the running configuration\n{}",
        cfg.to_yaml()
    );
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename onto {}", path.display()))?;
    Ok(())
}

fn stop(a: &StopArgs) -> Result<()> {
    let sock = a
        .api
        .clone()
        .unwrap_or_else(|| lbd::default_socket(&a.iface));
    let ep = Endpoint::Unix(sock.clone());
    let dir = lbd::pin_dir(&a.iface);
    match client::call(&ep, "POST", "/v1/shutdown", Some(&json!({"detach": true}))) {
        Ok(_) => {
            // The daemon removes its socket last but one: wait for it.
            let start = Instant::now();
            while sock.exists() && start.elapsed() < Duration::from_secs(15) {
                std::thread::sleep(Duration::from_millis(50));
            }
            // And the pins (kernel mode), which it removes right after.
            while dir.join("link").exists() && start.elapsed() < Duration::from_secs(15) {
                std::thread::sleep(Duration::from_millis(50));
            }
            println!("stopped the lb daemon on {}", a.iface);
            Ok(())
        }
        Err(client::ClientError::Connect { .. }) if dir.exists() => {
            remove_pins(&dir).map_err(CliError::failed)?;
            println!("removed the lb datapath of {} ({})", a.iface, dir.display());
            Ok(())
        }
        Err(e) => Err(CliError::failed(
            anyhow::Error::new(e).context(format!("no lb daemon or datapath on {}", a.iface)),
        )),
    }
}

fn check(a: &CheckArgs) -> Result<()> {
    let cfg = LbConfig::from_file(&a.config).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(a.config.display().to_string()))
    })?;
    let nb: usize = cfg.vips.iter().map(|v| v.backends.len()).sum();
    if a.json {
        crate::cmd::print_json(&json!({"ok": true, "vips": cfg.vips.len(), "backends": nb}))
    } else {
        println!(
            "{}: ok, {} vips, {nb} backends",
            a.config.display(),
            cfg.vips.len()
        );
        Ok(())
    }
}

// ----- clients -----

fn call(a: &ApiArgs, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let ep = a.endpoint()?;
    client::call(&ep, method, path, body).map_err(|e| match e {
        client::ClientError::Refused { status, .. } if status < 500 => {
            CliError::malformed(anyhow::Error::new(e))
        }
        e => CliError::failed(anyhow::Error::new(e)),
    })
}

fn vip_arg(s: &str) -> Result<oxbpf_lb::Vip> {
    parse_vip(s).map_err(|e| CliError::malformed(anyhow!(e)))
}

fn print_result(json: bool, v: &Value, text: &str) -> Result<()> {
    if json {
        crate::cmd::print_json(v)
    } else {
        println!("{text}");
        Ok(())
    }
}

/// Prints rows as aligned columns under `head`.
fn table(head: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn vip(c: &VipCommand) -> Result<()> {
    match c {
        VipCommand::Add { vip, flags, api } => {
            let v = vip_arg(vip)?;
            let body = json!({
                "address": v.addr.to_string(), "port": v.port,
                "proto": oxbpf_lb::daemon::config::proto_name(v.proto), "flags": flags,
            });
            let r = call(api, "POST", "/v1/vips", Some(&body))?;
            print_result(api.json, &r, &format!("added vip {}", s(&r["vip"])))
        }
        VipCommand::Del { vip, api } => {
            let v = vip_arg(vip)?;
            let r = call(api, "DELETE", &vip_path(&v), None)?;
            print_result(api.json, &r, &format!("deleted vip {vip}"))
        }
        VipCommand::List { api } => {
            let r = call(api, "GET", "/v1/vips", None)?;
            if api.json {
                return crate::cmd::print_json(&r);
            }
            let rows: Vec<Vec<String>> = r["vips"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|v| {
                    let flags: Vec<String> = v["flags"]
                        .as_array()
                        .map(|a| a.iter().map(s).collect())
                        .unwrap_or_default();
                    let bs = v["backends"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let healthy = bs.iter().filter(|b| b["healthy"] == true).count();
                    vec![
                        s(&v["vip"]),
                        if flags.is_empty() {
                            "-".into()
                        } else {
                            flags.join(",")
                        },
                        bs.len().to_string(),
                        healthy.to_string(),
                    ]
                })
                .collect();
            table(&["VIP", "FLAGS", "BACKENDS", "HEALTHY"], &rows);
            Ok(())
        }
    }
}

fn backend(c: &BackendCommand) -> Result<()> {
    match c {
        BackendCommand::Add {
            vip,
            address,
            weight,
            health_tcp,
            health_http,
            quic_server_id,
            api,
        } => {
            let v = vip_arg(vip)?;
            let mut body = json!({"address": address, "weight": weight});
            if let Some(p) = health_tcp {
                body["health"] = json!({ "tcp": p });
            }
            if let Some(u) = health_http {
                body["health"] = json!({ "http": u });
            }
            if let Some(q) = quic_server_id {
                body["quic_server_id"] = json!(q);
            }
            let r = call(
                api,
                "POST",
                &format!("{}/backends", vip_path(&v)),
                Some(&body),
            )?;
            let verb = if r["added"] == true {
                "added"
            } else {
                "replaced"
            };
            print_result(api.json, &r, &format!("{verb} backend {address} of {vip}"))
        }
        BackendCommand::Del { vip, address, api } => {
            let v = vip_arg(vip)?;
            let r = call(
                api,
                "DELETE",
                &format!("{}/backends/{address}", vip_path(&v)),
                None,
            )?;
            print_result(api.json, &r, &format!("deleted backend {address} of {vip}"))
        }
        BackendCommand::SetWeight {
            vip,
            address,
            weight,
            api,
        } => {
            let v = vip_arg(vip)?;
            let r = call(
                api,
                "PUT",
                &format!("{}/backends/{address}/weight", vip_path(&v)),
                Some(&json!({ "weight": weight })),
            )?;
            print_result(
                api.json,
                &r,
                &format!(
                    "backend {address} of {vip}: weight {weight} ({} ring slots written)",
                    r["slots_written"]
                ),
            )
        }
        BackendCommand::Drain { vip, address, api } => {
            let v = vip_arg(vip)?;
            let r = call(
                api,
                "POST",
                &format!("{}/backends/{address}/drain", vip_path(&v)),
                None,
            )?;
            print_result(
                api.json,
                &r,
                &format!(
                    "drained backend {address} of {vip} ({} ring slots written)",
                    r["slots_written"]
                ),
            )
        }
        BackendCommand::List { vip, api } => {
            let v = vip_arg(vip)?;
            let r = call(api, "GET", &format!("{}/backends", vip_path(&v)), None)?;
            if api.json {
                return crate::cmd::print_json(&r);
            }
            let rows: Vec<Vec<String>> = r["backends"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|b| {
                    let health = match &b["health"] {
                        Value::Object(o) => o
                            .iter()
                            .map(|(k, v)| format!("{k}:{}", s(v)))
                            .collect::<Vec<_>>()
                            .join(","),
                        _ => "-".into(),
                    };
                    vec![
                        s(&b["address"]),
                        s(&b["weight"]),
                        if b["healthy"] == true {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        health,
                    ]
                })
                .collect();
            table(&["BACKEND", "WEIGHT", "HEALTHY", "CHECK"], &rows);
            Ok(())
        }
    }
}

/// Packets per second of `now` against the same counter in `prev`
/// (taken `secs` earlier), or `-` without a previous sample.
fn rate(now: &Value, prev: Option<&Value>, secs: f64) -> String {
    match (now.as_u64(), prev.and_then(Value::as_u64)) {
        (Some(n), Some(p)) if secs > 0.0 => format!("{:.0}", n.saturating_sub(p) as f64 / secs),
        _ => "-".into(),
    }
}

/// The stats tables (per VIP with its backends' configuration, then per
/// backend address, whose traffic the datapath counts over every VIP it
/// serves); with a previous sample (`--watch`), packet rates too.
fn print_stats(v: &Value, prev: Option<(&Value, f64)>) {
    let mut rows = Vec::new();
    let secs = prev.map_or(0.0, |p| p.1);
    let empty = Vec::new();
    let find = |list: &str, key: &str, x: &Value| -> Option<Value> {
        prev.and_then(|(p, _)| {
            p[list]
                .as_array()?
                .iter()
                .find(|y| y[key] == x[key])
                .cloned()
        })
    };
    for vip in v["vips"].as_array().unwrap_or(&empty) {
        let pvip = find("vips", "vip", vip);
        rows.push(vec![
            s(&vip["vip"]),
            "-".into(),
            s(&vip["packets"]),
            rate(&vip["packets"], pvip.as_ref().map(|p| &p["packets"]), secs),
            s(&vip["bytes"]),
            s(&vip["new_connections"]),
            format!("{:.3}", vip["conn_table_hit_ratio"].as_f64().unwrap_or(0.0)),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
        for b in vip["backends"].as_array().unwrap_or(&empty) {
            rows.push(vec![
                String::new(),
                s(&b["address"]),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                s(&b["weight"]),
                if b["healthy"] == true {
                    "yes".into()
                } else {
                    "no".into()
                },
                s(&b["slots"]),
            ]);
        }
    }
    table(
        &[
            "VIP",
            "BACKEND",
            "PACKETS",
            "PKT/S",
            "BYTES",
            "NEW CONNS",
            "HIT RATIO",
            "WEIGHT",
            "HEALTHY",
            "SLOTS",
        ],
        &rows,
    );
    let mut brows = Vec::new();
    for b in v["backends"].as_array().unwrap_or(&empty) {
        let pb = find("backends", "address", b);
        brows.push(vec![
            s(&b["address"]),
            s(&b["packets"]),
            rate(&b["packets"], pb.as_ref().map(|p| &p["packets"]), secs),
            s(&b["bytes"]),
            s(&b["new_connections"]),
        ]);
    }
    println!();
    table(
        &[
            "BACKEND (ALL VIPS)",
            "PACKETS",
            "PKT/S",
            "BYTES",
            "NEW CONNS",
        ],
        &brows,
    );
    let drops: Vec<String> = v["drops"]
        .as_object()
        .map(|o| o.iter().map(|(k, n)| format!("{k}={n}")).collect())
        .unwrap_or_default();
    println!(
        "new connections {}, conn table hits {} misses {} (hit ratio {:.3}), drops: {}",
        v["new_connections"],
        v["conn_table_hits"],
        v["conn_table_misses"],
        v["conn_table_hit_ratio"].as_f64().unwrap_or(0.0),
        drops.join(" ")
    );
}

fn stats(a: &StatsArgs) -> Result<()> {
    install_signal_handlers();
    let mut prev: Option<(Value, Instant)> = None;
    loop {
        let v = call(&a.api, "GET", "/v1/stats", None)?;
        let at = Instant::now();
        if a.api.json {
            crate::cmd::print_json(&v)?;
        } else {
            let p = prev
                .as_ref()
                .map(|(p, t)| (p, at.duration_since(*t).as_secs_f64()));
            print_stats(&v, p);
        }
        prev = Some((v, at));
        let Some(secs) = a.watch else {
            return Ok(());
        };
        let until = Instant::now() + Duration::from_secs_f64(secs.max(0.05));
        while Instant::now() < until {
            if STOP.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !a.api.json {
            println!();
        }
    }
}
