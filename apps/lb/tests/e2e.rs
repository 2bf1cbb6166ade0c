//! The load balancer end to end with direct server return, in network
//! namespaces (issue 11 item 4): a client, a router, the balancer on a
//! veth and four backends (`oxbpf_testkit::lbnet`), real TCP connections
//! to the VIP answered by the backends straight to the client.
//!
//! Every connection's backend is predicted independently of the datapath
//! and of the daemon: a [`Balancer`] in this test builds the same Maglev
//! ring from the same backend list (stable mode, same order, drained and
//! failed backends at weight 0, as the daemon's state does) and
//! [`Balancer::pick`] hashes the client's 5-tuple as the datapath must.
//! Each answer (`backend=NAME`) must be exactly that backend.
//!
//! Scenarios (one at a time, unique names, everything removed after):
//! - `kernel_attach`: the datapath attached by `oxbpf xdp attach --mode
//!   kernel`, its pinned maps filled by the control-plane library: 200
//!   connections spread over three backends as the ring says;
//! - `daemon_kernel` and `daemon_userspace` (`oxbpf lb run --mode ...`):
//!   200 connections as the ring says; then long-lived connections opened
//!   (request started, not finished) while a backend is added, one is
//!   drained and one fails its health check (its server stops listening):
//!   every long-lived connection completes on the backend it started on,
//!   new connections follow the new ring and avoid the drained and the
//!   failed backend; in kernel mode the daemon is then stopped (SIGTERM)
//!   and started again while connections are open: none breaks, the
//!   datapath answers while no daemon runs, and the adopted rings route
//!   new connections exactly as before; finally the failed backend's
//!   server comes back, its health check returns it to the ring and new
//!   connections follow the ring with it again;
//! - `daemon_kernel_mode_native_xdp`: the kernel scenario with the
//!   datapath in native XDP mode (the router's end of the veth carries a
//!   pass program, which native `XDP_TX` on a veth needs);
//! - `daemon_gue_encapsulation`: `encap: gue`, backends that decapsulate
//!   only GUE: 200 connections as the ring says.
//!
//! Needs root, `bpf(2)`, clang, iproute2, nsenter and the `oxbpf`
//! command built (`cargo build -p oxbpf-cli`, or `OXBPF_BIN`): ignored
//! with the reason otherwise, failing under `OXBPF_REQUIRE_PRIVILEGED=1`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed};
use oxbpf_lb::flow::Flow;
use oxbpf_lb::{Balancer, ControlError, GlobalConfig, MapTarget, Vip, VipOptions};
use oxbpf_testkit::lbnet::{self, Backend, LbNet, LongConn, ServerStats};
use oxbpf_testkit::netns::in_netns;
use oxbpf_testkit::{Requirement, privileged_trial};

type R<T> = Result<T, String>;

const PREFIX: &str = "oxlbe";
const TIMEOUT: Duration = Duration::from_secs(3);
static SERIAL: Mutex<()> = Mutex::new(());

fn vip() -> Vip {
    Vip {
        addr: lbnet::VIP.into(),
        port: 80,
        proto: 6,
    }
}

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lb_e2e");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// `apps/lb/bpf/NAME.bpf.c` compiled into the test's directory.
fn object(name: &str) -> R<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bpf")
        .join(format!("{name}.bpf.c"));
    let out = tmp().join(format!("{name}.o"));
    oxbpf_testkit::bpf::compile(&src, &out)?;
    Ok(out)
}

fn oxbpf() -> R<PathBuf> {
    oxbpf_testkit::oxbpf_binary()
        .ok_or_else(|| "the oxbpf command is not built: cargo build -p oxbpf-cli".to_string())
}

/// The topology with its backends' HTTP servers running (threads in the
/// backend namespaces) and decapsulation attached where needed.
struct Setup {
    servers: Vec<(Arc<AtomicBool>, Arc<ServerStats>)>,
    net: LbNet,
}

impl Setup {
    fn new(backends: u8) -> R<Setup> {
        Setup::with_decap(backends, &object("decap")?)
    }

    /// [`Setup::new`] with backends decapsulating with `decap` (when the
    /// kernel has no ipip device).
    fn with_decap(backends: u8, decap: &Path) -> R<Setup> {
        let net = LbNet::create(PREFIX, backends)?;
        net.attach_xdp_decap(&oxbpf()?, decap)?;
        let mut servers = Vec::new();
        for b in &net.backends {
            servers.push(start_server(b)?);
        }
        Ok(Setup { servers, net })
    }

    /// Stops backend `k`'s listener (1-based): new connections to it are
    /// refused, those it accepted are still answered.
    fn fail(&self, k: usize) {
        self.servers[k - 1].0.store(true, Ordering::Relaxed);
    }

    /// Starts backend `k`'s server again after [`Setup::fail`].
    fn revive(&mut self, k: usize) -> R<()> {
        let b = self.net.backends[k - 1].clone();
        // The stopped loop closes its listener within a few ms; until
        // then the port is taken.
        let end = Instant::now() + TIMEOUT;
        loop {
            match start_server(&b) {
                Ok(srv) => {
                    self.servers[k - 1] = srv;
                    return Ok(());
                }
                Err(e) if Instant::now() > end => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn name_of(&self, addr: IpAddr) -> String {
        self.net
            .backends
            .iter()
            .find(|b| IpAddr::from(b.addr) == addr)
            .map(|b| format!("backend={}", b.name))
            .unwrap_or_else(|| format!("backend at {addr} (unknown)"))
    }

    fn addr(&self, k: usize) -> IpAddr {
        self.net.backends[k - 1].addr.into()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        for (stop, _) in &self.servers {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// A backend's HTTP server on a thread in its namespace: its stop flag
/// and counters, once it listens.
fn start_server(b: &Backend) -> R<(Arc<AtomicBool>, Arc<ServerStats>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(ServerStats::default());
    let (s, st, name) = (stop.clone(), stats.clone(), b.name.clone());
    let (tx, rx) = mpsc::channel();
    in_netns(&b.ns, move || {
        match lbnet::bind_http(80) {
            Ok(l) => {
                let _ = tx.send(Ok(()));
                lbnet::serve(l, &name, &s, st);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
        Ok(())
    });
    rx.recv_timeout(TIMEOUT)
        .map_err(|_| format!("{}: server did not start", b.name))??;
    Ok((stop, stats))
}

/// Accepts every write: the mirror only needs the rings.
struct Nowhere;

impl MapTarget for Nowhere {
    fn update(&self, _: &str, _: &[u8], _: &[u8]) -> Result<(), ControlError> {
        Ok(())
    }
    fn delete(&self, _: &str, _: &[u8]) -> Result<(), ControlError> {
        Ok(())
    }
}

/// The rings the datapath must hold, computed here.
struct Mirror {
    bal: Balancer,
    list: Vec<(IpAddr, u32)>,
}

impl Mirror {
    fn new(list: Vec<(IpAddr, u32)>) -> R<Mirror> {
        let mut bal = Balancer::new(GlobalConfig::default());
        bal.add_vip(&Nowhere, vip(), VipOptions::default())
            .map_err(|e| e.to_string())?;
        let mut m = Mirror {
            bal,
            list: Vec::new(),
        };
        m.set(list)?;
        Ok(m)
    }

    fn set(&mut self, list: Vec<(IpAddr, u32)>) -> R<()> {
        self.bal
            .set_backends(&Nowhere, &vip(), &list)
            .map_err(|e| e.to_string())?;
        self.list = list;
        Ok(())
    }

    fn set_weight(&mut self, addr: IpAddr, w: u32) -> R<()> {
        let mut l = self.list.clone();
        for e in &mut l {
            if e.0 == addr {
                e.1 = w;
            }
        }
        self.set(l)
    }

    /// The backend of a new connection from client port `port`.
    fn expect(&self, port: u16) -> R<IpAddr> {
        let f = Flow {
            src: lbnet::CLIENT_IP.into(),
            dst: lbnet::VIP.into(),
            sport: port,
            dport: 80,
            proto: 6,
        };
        self.bal
            .pick(&vip(), &f)
            .ok_or_else(|| format!("the mirror ring has no backend for port {port}"))
    }
}

/// `n` complete requests from fresh client ports, in the client
/// namespace: (port, body) each, or the first error.
fn requests(s: &Setup, n: usize) -> R<Vec<(u16, String)>> {
    in_netns(&s.net.client, move || {
        (0..n)
            .map(|_| lbnet::request_from(lbnet::next_port()?, lbnet::vip_addr(), TIMEOUT))
            .collect()
    })
    .join()
    .map_err(|_| "client thread panicked".to_string())?
}

/// Opens `n` long-lived connections (request started, not finished).
fn open_long(s: &Setup, n: usize) -> R<Vec<LongConn>> {
    in_netns(&s.net.client, move || {
        (0..n)
            .map(|_| LongConn::open_from(lbnet::next_port()?, lbnet::vip_addr(), TIMEOUT))
            .collect()
    })
    .join()
    .map_err(|_| "client thread panicked".to_string())?
}

/// Every answer must come from the backend the mirror's ring names;
/// returns the count per backend.
fn check_spread(
    s: &Setup,
    m: &Mirror,
    got: &[(u16, String)],
    what: &str,
) -> R<BTreeMap<String, usize>> {
    let mut per = BTreeMap::new();
    let mut wrong = Vec::new();
    for (port, body) in got {
        let want = s.name_of(m.expect(*port)?);
        if *body != want {
            wrong.push(format!("port {port}: {body}, ring says {want}"));
        }
        *per.entry(body.clone()).or_insert(0) += 1;
    }
    if !wrong.is_empty() {
        return Err(format!(
            "{what}: {} of {} connections on the wrong backend: {}",
            wrong.len(),
            got.len(),
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    eprintln!("{what}: {} connections, per backend {per:?}", got.len());
    Ok(per)
}

/// Long-lived connections with the backend each started on.
struct Open(Vec<(LongConn, String)>);

impl Open {
    fn add(&mut self, s: &Setup, m: &Mirror, n: usize) -> R<()> {
        for c in open_long(s, n)? {
            let want = s.name_of(m.expect(c.local_port)?);
            self.0.push((c, want));
        }
        Ok(())
    }

    /// Completes every request: each must be answered by its backend.
    fn finish(self, what: &str) -> R<usize> {
        let n = self.0.len();
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for (_, want) in &self.0 {
            *per.entry(want.clone()).or_default() += 1;
        }
        let mut bad = Vec::new();
        for (c, want) in self.0 {
            let port = c.local_port;
            match c.finish() {
                Ok(body) if body == want => {}
                Ok(body) => bad.push(format!("port {port}: {body}, started on {want}")),
                Err(e) => bad.push(format!("port {port} (on {want}): {e}")),
            }
        }
        if !bad.is_empty() {
            return Err(format!(
                "{what}: {} of {n} long-lived connections broke or moved: {}",
                bad.len(),
                bad.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ));
        }
        eprintln!("{what}: {n} long-lived connections completed on their backends {per:?}");
        Ok(n)
    }
}

/// Runs `oxbpf ARGS` in the balancer's network namespace only (the
/// mount namespace stays, so kernel-mode pins outlive the command).
fn oxbpf_in(ns: &str, args: &[&str]) -> R<String> {
    let out = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{ns}"))
        .arg(oxbpf()?)
        .args(args)
        .output()
        .map_err(|e| format!("nsenter oxbpf: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "oxbpf {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse_mac(s: &str) -> R<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).map_err(|e| format!("{s}: {e}")))
        .collect::<R<_>>()?;
    v.try_into().map_err(|_| format!("{s}: not a MAC"))
}

/// The datapath attached with `oxbpf xdp attach --mode kernel` and filled
/// by the library: the spread over three backends.
fn kernel_attach() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new(3)?;
    let obj = object("balancer")?;
    let (ns, iface) = (s.net.lb.clone(), s.net.lb_if.clone());
    let o = obj.to_str().ok_or("path")?;
    #[rustfmt::skip]
    let args = ["xdp", "attach", &iface, o, "--mode", "kernel", "--xdp-mode", "generic"];
    oxbpf_in(&ns, &args)?;
    let t = oxbpf_lb::daemon::PinnedMaps::open(&lbnet::pin_dir(&iface).join("maps"))?;
    let mut bal = Balancer::new(GlobalConfig {
        nexthop_mac: parse_mac(&s.net.router_lb_mac)?,
        ..GlobalConfig::default()
    });
    let list: Vec<(IpAddr, u32)> = (1..=3).map(|k| (s.addr(k), 1)).collect();
    bal.write_global(&t).map_err(|e| e.to_string())?;
    bal.add_vip(&t, vip(), VipOptions::default())
        .map_err(|e| e.to_string())?;
    bal.set_backends(&t, &vip(), &list)
        .map_err(|e| e.to_string())?;
    let m = Mirror::new(list)?;
    let got = requests(&s, 200)?;
    let per = check_spread(&s, &m, &got, "kernel attach")?;
    if per.len() != 3 {
        return Err(format!("200 connections reached only {per:?}").into());
    }
    oxbpf_in(&ns, &["xdp", "detach", &iface])?;
    Ok(())
}

/// The daemon's configuration: the VIP with `backends` (address, weight),
/// each health-checked by TCP connect to port 80.
fn config(s: &Setup, backends: &[(IpAddr, u32)]) -> String {
    config_encap(s, "encap: ipip", backends)
}

/// [`config`] with the encapsulation lines `encap`.
fn config_encap(s: &Setup, encap: &str, backends: &[(IpAddr, u32)]) -> String {
    let mut y = format!(
        "nexthop_mac: \"{}\"\n{encap}\n\
         health_defaults: {{ interval_ms: 200, timeout_ms: 1000, rise: 2, fall: 3 }}\n\
         vips:\n  - address: {}\n    port: 80\n    proto: tcp\n    backends:\n",
        s.net.router_lb_mac,
        lbnet::VIP
    );
    for (a, w) in backends {
        y += &format!("      - address: {a}\n        weight: {w}\n        health: {{ tcp: 80 }}\n");
    }
    y
}

/// A running `oxbpf lb run`.
struct Daemon {
    child: Option<Child>,
    api: PathBuf,
    lb_ns: String,
    iface: String,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(s: &Setup, mode: &str, xdp_mode: &str, cfg: &Path) -> R<Daemon> {
        let api = tmp().join(format!("{}.sock", s.net.lb_if));
        let obj = object("balancer")?;
        let mut child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", s.net.lb))
            .arg(oxbpf()?)
            .args(["lb", "run", "--iface", &s.net.lb_if, "--mode", mode])
            .args(["--xdp-mode", xdp_mode, "--config"])
            .arg(cfg)
            .arg("--api")
            .arg(&api)
            .arg("--object")
            .arg(&obj)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn oxbpf lb run: {e}"))?;
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut g = l.lock().unwrap_or_else(|e| e.into_inner());
                g.push_str(&line);
                g.push('\n');
            }
        });
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("lb: ready") {
                    let _ = tx.send(line.clone());
                }
                let mut g = l.lock().unwrap_or_else(|e| e.into_inner());
                g.push_str(&line);
                g.push('\n');
            }
        });
        let mut d = Daemon {
            child: Some(child),
            api,
            lb_ns: s.net.lb.clone(),
            iface: s.net.lb_if.clone(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                eprintln!("{line}");
                let want = format!("lb: ready iface={} mode={mode} ", s.net.lb_if);
                if !line.starts_with(&want) {
                    return Err(format!("ready line {line:?}, expected {want:?}…"));
                }
                Ok(d)
            }
            Err(_) => {
                d.kill();
                Err(format!("oxbpf lb run did not get ready: {}", d.log()))
            }
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` and waits for a clean exit.
    fn stop(&mut self, signal: i32) -> R<()> {
        let mut c = self.child.take().ok_or("the daemon is not running")?;
        // nsenter execs oxbpf: the child's pid is the daemon's.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, signal) };
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().map_err(|e| e.to_string())? {
                if !st.success() {
                    return Err(format!("oxbpf lb run exited with {st}: {}", self.log()));
                }
                return Ok(());
            }
            if Instant::now() > end {
                let _ = c.kill();
                return Err("oxbpf lb run did not stop within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `oxbpf lb ARGS --api SOCKET`.
    fn cli(&self, args: &[&str]) -> R<String> {
        let api = self.api.to_str().ok_or("api path")?;
        let mut all = vec!["lb"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--api", api]);
        oxbpf_in(&self.lb_ns, &all)
    }

    /// `GET PATH` on the API socket: the body.
    fn get(&self, path: &str) -> R<String> {
        let mut s =
            UnixStream::connect(&self.api).map_err(|e| format!("{}: {e}", self.api.display()))?;
        s.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
        Ok(resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or(resp))
    }

    /// Waits until `/metrics` reports backend `addr` healthy or not.
    fn wait_health(&self, addr: IpAddr, healthy: bool) -> R<()> {
        let want = if healthy { "1" } else { "0" };
        let end = Instant::now() + Duration::from_secs(15);
        let mut last = String::new();
        while Instant::now() < end {
            last = self.get("/metrics")?;
            let hit = last.lines().any(|l| {
                l.starts_with("oxbpf_lb_backend_healthy{")
                    && l.contains(&format!("backend=\"{addr}\""))
                    && l.split_whitespace().last() == Some(want)
            });
            if hit {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let lines: Vec<&str> = last.lines().filter(|l| l.contains("healthy")).collect();
        Err(format!(
            "backend {addr} not reported healthy={want} within 15 s: {lines:?}"
        ))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        // The API socket stays: a restarted daemon (the same path) may
        // already own it; a stale one is replaced by the next `lb run`.
        // A kernel-mode datapath stays pinned by design (the next daemon
        // adopts it); `LbNet`'s drop removes what a failed test leaves.
    }
}

/// The daemon scenario in `mode` with XDP attached in `xdp_mode` (see
/// the module docs).
fn daemon_scenario(mode: &'static str, xdp_mode: &'static str) -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Setup::new(4)?;
    if xdp_mode == "native" {
        // A veth drops native XDP_TX frames towards a peer that has no
        // XDP program of its own: give the router's end a pass program.
        let decap = object("decap")?;
        let o = decap.to_str().ok_or("path")?;
        let ri = s.net.router_lb_if.clone();
        #[rustfmt::skip]
        let args = ["xdp", "attach", &ri, o, "--prog", "pass", "--mode", "kernel", "--xdp-mode", "native"];
        oxbpf_in(&s.net.router, &args)?;
    }
    let vip_s = format!("{}:80/tcp", lbnet::VIP);
    let tag = format!("{mode} ({xdp_mode} XDP)");
    let (b1, b2, b3, b4) = (s.addr(1), s.addr(2), s.addr(3), s.addr(4));
    let mut m = Mirror::new(vec![(b1, 1), (b2, 1), (b3, 1)])?;
    let cfg = tmp().join(format!("{mode}.yaml"));
    std::fs::write(&cfg, config(&s, &m.list)).map_err(|e| e.to_string())?;
    let mut d = Daemon::start(&s, mode, xdp_mode, &cfg)?;

    // 1. The spread.
    let got = requests(&s, 200)?;
    let per = check_spread(&s, &m, &got, &format!("{tag}: spread"))?;
    if per.len() != 3 {
        return Err(format!("200 connections reached only {per:?}").into());
    }

    // 2. Long-lived connections across an added, a drained and a failed
    // backend.
    let mut open = Open(Vec::new());
    open.add(&s, &m, 30)?;
    let (b4s, b1s) = (b4.to_string(), b1.to_string());
    d.cli(&[
        "backend",
        "add",
        &vip_s,
        &b4s,
        "--weight",
        "1",
        "--health-tcp",
        "80",
    ])?;
    m.set({
        let mut l = m.list.clone();
        l.push((b4, 1));
        l
    })?;
    let per = check_spread(&s, &m, &requests(&s, 80)?, &format!("{tag}: b4 added"))?;
    if !per.contains_key("backend=b4") {
        return Err(format!("no new connection reached the added backend: {per:?}").into());
    }
    open.add(&s, &m, 20)?;

    d.cli(&["backend", "drain", &vip_s, &b1s])?;
    m.set_weight(b1, 0)?;
    let per = check_spread(&s, &m, &requests(&s, 80)?, &format!("{tag}: b1 drained"))?;
    if per.contains_key("backend=b1") {
        return Err(format!("a new connection reached the drained backend: {per:?}").into());
    }
    open.add(&s, &m, 20)?;

    s.fail(2);
    d.wait_health(b2, false)?;
    m.set_weight(b2, 0)?;
    let per = check_spread(&s, &m, &requests(&s, 80)?, &format!("{tag}: b2 failed"))?;
    if per.contains_key("backend=b1") || per.contains_key("backend=b2") {
        return Err(format!("a new connection reached b1 or b2: {per:?}").into());
    }
    open.add(&s, &m, 20)?;

    // 3. Kernel mode: restart the daemon with connections open.
    if mode == "kernel" {
        // The next daemon reads the state this one reached: b1 drained,
        // b4 added; b2 keeps its weight and is out for its health (it owns
        // no slot of the adopted ring, so it starts unhealthy).
        let mut wanted = m.list.clone();
        for e in &mut wanted {
            if e.0 == b2 {
                e.1 = 1;
            }
        }
        std::fs::write(&cfg, config(&s, &wanted)).map_err(|e| e.to_string())?;
        d.stop(libc::SIGTERM)?;
        // No daemon: the pinned datapath keeps balancing.
        let what = format!("{tag}: no daemon running");
        check_spread(&s, &m, &requests(&s, 40)?, &what)?;
        open.add(&s, &m, 20)?;
        d = Daemon::start(&s, mode, xdp_mode, &cfg)?;
        let got = requests(&s, 80).map_err(|e| format!("{e}; daemon said: {}", d.log()))?;
        check_spread(&s, &m, &got, &format!("{tag}: after restart"))?;
    }
    // 4. The failed backend recovers: the health check brings it back and
    // new connections follow the ring with it again.
    s.revive(2)?;
    d.wait_health(b2, true)?;
    m.set_weight(b2, 1)?;
    let per = check_spread(
        &s,
        &m,
        &requests(&s, 80)?,
        &format!("{tag}: b2 healthy again"),
    )?;
    if !per.contains_key("backend=b2") {
        return Err(format!("no new connection reached the recovered backend: {per:?}").into());
    }
    open.finish(&tag)?;
    d.stop(libc::SIGTERM)?;
    if mode == "kernel" {
        let pins = Path::new(lbnet::PIN_ROOT).join("lb").join(&d.iface);
        if !pins.exists() {
            return Err(format!(
                "{} gone after SIGTERM: kernel mode must leave it",
                pins.display()
            )
            .into());
        }
        oxbpf_in(&d.lb_ns, &["lb", "stop", "--iface", &d.iface])?;
        if pins.exists() {
            return Err(format!("{} left after lb stop", pins.display()).into());
        }
    }
    Ok(())
}

/// GUE encapsulation (`encap: gue`): the backends decapsulate with the
/// GUE-only build of `decap.bpf.c` (IPIP would pass undecapsulated and
/// never reach a socket), so every answer proves the packets went in GUE.
fn daemon_gue() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let src = tmp().join("decap_gue_only.bpf.c");
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf/decap.bpf.c");
    std::fs::write(
        &src,
        format!(
            "#define LB_DECAP_GUE_ONLY\n#include \"{}\"\n",
            real.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let obj = tmp().join("decap_gue_only.o");
    oxbpf_testkit::bpf::compile(&src, &obj)?;
    let s = Setup::with_decap(3, &obj)?;
    if s.net.decap != lbnet::Decap::Xdp {
        return Err(
            "this kernel has ipip devices; the GUE scenario needs XDP decapsulation".into(),
        );
    }
    let m = Mirror::new((1..=3).map(|k| (s.addr(k), 1)).collect())?;
    let cfg = tmp().join("gue.yaml");
    let text = config_encap(&s, "encap: gue\ngue_port: 6080", &m.list);
    std::fs::write(&cfg, text).map_err(|e| e.to_string())?;
    let mut d = Daemon::start(&s, "kernel", "generic", &cfg)?;
    let per = check_spread(&s, &m, &requests(&s, 200)?, "kernel (GUE)")?;
    if per.len() != 3 {
        return Err(format!("200 connections reached only {per:?}").into());
    }
    d.stop(libc::SIGTERM)?;
    oxbpf_in(&d.lb_ns, &["lb", "stop", "--iface", &d.iface])?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let req = [Requirement::Root, Requirement::Bpf];
    let tests = vec![
        privileged_trial("kernel_attach_spread", &req, kernel_attach),
        privileged_trial("daemon_kernel_mode", &req, || {
            daemon_scenario("kernel", "generic")
        }),
        privileged_trial("daemon_userspace_mode", &req, || {
            daemon_scenario("userspace", "generic")
        }),
        privileged_trial("daemon_kernel_mode_native_xdp", &req, || {
            daemon_scenario("kernel", "native")
        }),
        privileged_trial("daemon_gue_encapsulation", &req, daemon_gue),
    ];
    libtest_mimic::run(&args, tests).exit();
}
