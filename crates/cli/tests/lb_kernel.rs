//! `oxbpf lb run --mode kernel` restarts without losing state: the daemon
//! runs on a veth in a network namespace, TCP SYNs to a VIP fill the
//! connection tables, the daemon is stopped with SIGTERM (the datapath
//! stays attached and pinned) and started again: it adopts the pins, the
//! rings are the same slot for slot, the connection-table entries are
//! still there, and the same flows now hit the table. `oxbpf lb stop`
//! then removes the datapath. Root only (oxbpf-testkit convention).

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::channel;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use oxbpf_kernel::KernelMap;
use oxbpf_testkit::netns::VethPair;
use oxbpf_testkit::{Requirement, privileged_trial};
use serde_json::Value;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
const FLOWS: u16 = 40;
const RING: u32 = 65_537;

/// Kills the daemon and removes its pins when the test ends, however it
/// ends.
struct Cleanup {
    child: Option<Child>,
    pins: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Unlinking the pins drops the link (detaching the program) and
        // the maps.
        if let Ok(rd) = std::fs::read_dir(self.pins.join("maps")) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let _ = std::fs::remove_dir(self.pins.join("maps"));
        let _ = std::fs::remove_file(self.pins.join("prog"));
        let _ = std::fs::remove_file(self.pins.join("link"));
        let _ = std::fs::remove_dir(&self.pins);
    }
}

fn oxbpf_in(ns: &str) -> Command {
    // Only the network namespace changes: pins stay on the host's bpffs
    // (`ip netns exec` would give the daemon a private mount namespace).
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/var/run/netns/{ns}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_oxbpf"));
    c
}

/// Starts the daemon and waits for its ready line; returns the child and
/// everything it printed up to then.
fn start_daemon(
    ns: &str,
    iface: &str,
    cfg: &Path,
    sock: &Path,
    cache: &Path,
    mode: &[&str],
) -> Result<(Child, String), Failed> {
    let mut child = oxbpf_in(ns)
        .args(["lb", "run", "--config"])
        .arg(cfg)
        .args(["--iface", iface])
        .args(mode)
        .arg("--api")
        .arg(sock)
        .arg("--cache-dir")
        .arg(cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let err = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(format!("out: {line}"));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("err: {line}"));
        }
    });
    let mut seen = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) => {
                seen.push_str(&l);
                seen.push('\n');
                if l.starts_with("out: lb: ready ") {
                    // Keep draining so the daemon never blocks on a pipe.
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    return Ok((child, seen));
                }
            }
            Err(_) => {
                let _ = child.kill();
                return Err(format!("no ready line; the daemon said:\n{seen}").into());
            }
        }
    }
}

fn checksum(b: &[u8]) -> u16 {
    let mut s = 0u32;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet + IPv4 + TCP SYN from 10.0.0.1:`sport` to the VIP, port 80.
fn syn(dst_mac: [u8; 6], sport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0x10]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&[10, 0, 0, 1]);
    ip.extend_from_slice(&VIP.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    // The TCP checksum over the pseudo-header.
    let mut ph = Vec::new();
    ph.extend_from_slice(&[10, 0, 0, 1]);
    ph.extend_from_slice(&VIP.octets());
    ph.extend_from_slice(&[0, 6, 0, 20]);
    ph.extend_from_slice(&tcp);
    let c = checksum(&ph);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&tcp);
    f
}

/// Sends the SYNs of flows 0..FLOWS out of `iface` in namespace `ns`
/// (they arrive on the load balancer's end of the veth).
fn send_flows(ns: &str, iface: &str, dst_mac: [u8; 6]) -> Result<(), Failed> {
    let iface = iface.to_string();
    oxbpf_testkit::netns::in_netns(ns, move || {
        let ifindex = oxbpf_xdp::xsk::ifindex(&iface).map_err(|e| e.to_string())?;
        // SAFETY: plain socket(2) call; the fd is checked and closed below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh socket this function owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        for sport in 0..FLOWS {
            let frame = syn(dst_mac, 40_000 + sport);
            // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_ifindex = ifindex as i32;
            sa.sll_halen = 6;
            sa.sll_addr[..6].copy_from_slice(&dst_mac);
            // SAFETY: frame and sa outlive the call; lengths are theirs.
            let n = unsafe {
                libc::sendto(
                    sock.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&raw const sa).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if n < 0 {
                return Err(format!("sendto: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| "sender panicked")??;
    // Generic XDP runs in the receive path: give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

fn mac_of(ns: &str, iface: &str) -> Result<[u8; 6], Failed> {
    let out = oxbpf_testkit::netns::ip(&["-n", ns, "-o", "link", "show", iface])?;
    let s = out
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or("no MAC")?;
    let mut m = [0u8; 6];
    for (o, p) in m.iter_mut().zip(s.split(':')) {
        *o = u8::from_str_radix(p, 16)?;
    }
    Ok(m)
}

fn ring(pins: &Path) -> Result<Vec<u32>, Failed> {
    let m = KernelMap::from_pin(&pins.join("maps/rings"))?;
    (0..RING)
        .map(|i| {
            let v = m.lookup(&i.to_le_bytes())?.ok_or("ring slot missing")?;
            Ok(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
        })
        .collect()
}

fn conn_keys(pins: &Path) -> Result<Vec<Vec<u8>>, Failed> {
    let m = KernelMap::from_pin(&pins.join("maps/conn_shared"))?;
    let mut keys = m.keys().collect::<Result<Vec<_>, _>>()?;
    keys.sort();
    Ok(keys)
}

fn stats(ns: &str, sock: &Path) -> Result<Value, Failed> {
    let o = oxbpf_in(ns)
        .args(["lb", "stats", "--json", "--api"])
        .arg(sock)
        .output()?;
    if !o.status.success() {
        return Err(format!("lb stats: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

/// What the daemon adopted at start, as `/v1/status` reports it (the
/// "adopted" log line goes to stderr and the ready line to stdout, so
/// their order as read through two pipes is not fixed).
fn adopted(sock: &Path) -> Result<(u64, u64), Failed> {
    let ep = oxbpf_lb::daemon::client::Endpoint::Unix(sock.to_path_buf());
    let v = oxbpf_lb::daemon::client::call(&ep, "GET", "/v1/status", None)?;
    let n = |k: &str| {
        v["adopted"][k]
            .as_u64()
            .ok_or(format!("status without adopted.{k}: {v}"))
    };
    Ok((n("vips")?, n("backends")?))
}

fn sigterm(mut c: Child) -> Result<(), Failed> {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(c.id() as i32, libc::SIGTERM);
    }
    let st = c.wait()?;
    if !st.success() {
        return Err(format!("daemon exited {st}").into());
    }
    Ok(())
}

/// One namespace test at a time (they share CPUs and the veth driver).
static SERIAL: Mutex<()> = Mutex::new(());

fn config_text(extra: &str) -> String {
    format!(
        "nexthop_mac: \"02:00:00:00:00:01\"\nring_size: {RING}\nvips:\n  - address: {VIP}\n    port: 80\n    proto: tcp\n    backends:\n      - {{address: 10.201.0.2}}\n      - {{address: 10.201.0.3, weight: 2}}\n      - {{address: 10.201.0.4}}\n{extra}"
    )
}

fn vip_count(ns: &str, sock: &Path) -> Result<usize, Failed> {
    let o = oxbpf_in(ns)
        .args(["lb", "vip", "list", "--json", "--api"])
        .arg(sock)
        .output()?;
    if !o.status.success() {
        return Err(format!("lb vip list: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    let v: Value = serde_json::from_slice(&o.stdout)?;
    Ok(v["vips"].as_array().map_or(0, Vec::len))
}

/// Sends SIGHUP and waits until the daemon has `want` VIPs (or a while);
/// returns how many it has.
fn hup_and_wait(c: &Child, ns: &str, sock: &Path, want: usize) -> Result<usize, Failed> {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(c.id() as i32, libc::SIGHUP);
    }
    let mut n = 0;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        n = vip_count(ns, sock)?;
        if n == want {
            break;
        }
    }
    Ok(n)
}

/// A veth pair (the daemon on the server end, in its namespace), a
/// directory for the configuration and the API socket, and the guard
/// that ends the daemon and removes its pins.
struct Fixture {
    /// Dropped first (fields drop in order): the daemon ends and its pins
    /// go before the namespaces do.
    guard: Cleanup,
    pair: VethPair,
    ns: String,
    iface: String,
    tmp: PathBuf,
    cache: PathBuf,
    cfg: PathBuf,
    sock: PathBuf,
}

/// A [`Fixture`] whose names start with `prefix`, configured with
/// [`config_text`].
fn fixture(prefix: &str) -> Result<Fixture, Failed> {
    let pair = VethPair::create(
        prefix,
        1,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
    )?;
    let (ns, iface) = (pair.server.clone(), pair.server_if.clone());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tmp = base.join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let cfg = tmp.join("lb.yaml");
    std::fs::write(&cfg, config_text(""))?;
    let guard = Cleanup {
        child: None,
        pins: oxbpf_lb::daemon::pin_dir(&iface),
    };
    Ok(Fixture {
        ns,
        iface,
        cache: base.join("lb-cache"),
        sock: tmp.join("api.sock"),
        cfg,
        tmp,
        guard,
        pair,
    })
}

/// The daemon in kernel mode with generic XDP (veth in a namespace).
const KERNEL_MODE: &[&str] = &["--mode", "kernel", "--xdp-mode", "generic"];

impl Fixture {
    /// Starts the daemon on the fixture's interface, files and socket with
    /// `mode` arguments; see [`start_daemon`].
    fn start(&self, mode: &[&str]) -> Result<(Child, String), Failed> {
        start_daemon(
            &self.ns,
            &self.iface,
            &self.cfg,
            &self.sock,
            &self.cache,
            mode,
        )
    }

    /// `oxbpf lb stop` through the API, then waits for the daemon to exit
    /// cleanly.
    fn lb_stop(&mut self) -> Result<(), Failed> {
        let o = oxbpf_in(&self.ns)
            .args(["lb", "stop", "--iface", &self.iface, "--api"])
            .arg(&self.sock)
            .output()?;
        if !o.status.success() {
            return Err(format!("lb stop: {}", String::from_utf8_lossy(&o.stderr)).into());
        }
        if let Some(mut c) = self.guard.child.take() {
            let st = c.wait()?;
            if !st.success() {
                return Err(format!("daemon exited {st} on lb stop").into());
            }
        }
        Ok(())
    }
}

fn kernel_restart_adopts_the_pinned_datapath() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = fixture("oxlbk")?;
    let pins = f.guard.pins.clone();

    let (child, _) = f.start(KERNEL_MODE)?;
    f.guard.child = Some(child);
    let got = adopted(&f.sock)?;
    if got != (0, 0) {
        return Err(format!("a fresh start adopted (vips, backends) {got:?}").into());
    }
    let ring1 = ring(&pins)?;
    let ids: std::collections::BTreeSet<u32> = ring1.iter().copied().collect();
    if ids.len() != 3 || ids.contains(&0) {
        return Err(format!("ring owners {ids:?}, expected three backends").into());
    }
    let dst = mac_of(&f.ns, &f.iface)?;
    send_flows(&f.pair.client, &f.pair.client_if, dst)?;
    // Generic XDP runs in the receive path: wait until every SYN is seen.
    let mut conns1 = conn_keys(&pins)?;
    for _ in 0..50 {
        if conns1.len() >= FLOWS as usize {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        conns1 = conn_keys(&pins)?;
    }
    if conns1.len() != FLOWS as usize {
        return Err(format!("{} connection entries after {FLOWS} SYNs", conns1.len()).into());
    }
    let s1 = stats(&f.ns, &f.sock)?;
    if s1["new_connections"] != u64::from(FLOWS) {
        return Err(format!("stats after the first SYNs: {s1}").into());
    }

    sigterm(f.guard.child.take().ok_or("no child")?)?;
    if !pins.join("link").exists() {
        return Err("SIGTERM removed the pins".into());
    }
    // The datapath kept running without a daemon: the same flows hit.
    let (child, said) = f.start(KERNEL_MODE)?;
    f.guard.child = Some(child);
    let got = adopted(&f.sock)?;
    if got != (1, 3) {
        return Err(format!(
            "the restart adopted (vips, backends) {got:?}, expected (1, 3); the daemon said:\n{said}"
        )
        .into());
    }
    let ring2 = ring(&pins)?;
    let moved = ring1.iter().zip(&ring2).filter(|(a, b)| a != b).count();
    if moved != 0 {
        return Err(format!("{moved} ring slots moved across the restart").into());
    }
    let conns2 = conn_keys(&pins)?;
    if conns2 != conns1 {
        return Err(format!(
            "connection entries changed across the restart: {} before, {} after",
            conns1.len(),
            conns2.len()
        )
        .into());
    }
    send_flows(&f.pair.client, &f.pair.client_if, dst)?;
    let mut s2 = stats(&f.ns, &f.sock)?;
    for _ in 0..50 {
        if s2["conn_table_hits"].as_u64().unwrap_or(0) >= u64::from(FLOWS) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        s2 = stats(&f.ns, &f.sock)?;
    }
    let hits = s2["conn_table_hits"].as_u64().unwrap_or(0);
    if hits < u64::from(FLOWS) || s2["new_connections"] != u64::from(FLOWS) {
        return Err(format!("after the restart the same flows should hit: {s2}").into());
    }

    // SIGHUP: a bad file is refused and the state kept; a good one with
    // a second VIP is applied, and the first VIP's ring does not move.
    let child = f.guard.child.as_ref().ok_or("no child")?;
    std::fs::write(
        &f.cfg,
        config_text("      - {address: 10.201.0.5, weight: many}\n"),
    )?;
    if hup_and_wait(child, &f.ns, &f.sock, 2)? != 1 {
        return Err("a bad file changed the VIPs".into());
    }
    std::fs::write(
        &f.cfg,
        config_text(
            "  - {address: 10.200.0.2, port: 53, proto: udp, backends: [{address: 10.201.0.9}]}\n",
        ),
    )?;
    let n = hup_and_wait(child, &f.ns, &f.sock, 2)?;
    if n != 2 {
        return Err(format!("after SIGHUP with two VIPs the daemon has {n}").into());
    }
    if ring(&pins)? != ring1 {
        return Err("reloading with a new VIP moved the first VIP's ring".into());
    }

    // `lb stop` ends the daemon and removes the datapath.
    f.lb_stop()?;
    if pins.exists() {
        return Err(format!("lb stop left {}", pins.display()).into());
    }
    let xdp = oxbpf_testkit::netns::ip(&["-n", &f.ns, "link", "show", &f.iface])?;
    if xdp.contains("xdp") {
        return Err(format!("an XDP program is still attached: {xdp}").into());
    }
    let _ = std::fs::remove_dir_all(&f.tmp);
    Ok(())
}

/// Userspace mode: the workers run the datapath on the daemon's maps
/// (the API sees the connections they record), and `lb stop` ends it.
fn userspace_daemon_serves_the_workers_maps() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = fixture("oxlbu")?;
    let (child, said) = f.start(&["--mode", "userspace"])?;
    f.guard.child = Some(child);
    if !said.contains("mode=userspace") {
        return Err(format!("ready line: {said}").into());
    }
    let dst = mac_of(&f.ns, &f.iface)?;
    let mut got = Value::Null;
    // AF_XDP sockets may take a moment to see traffic: the flows are sent
    // again until recorded (a flow seen twice is a hit, not a new one).
    for _ in 0..10 {
        send_flows(&f.pair.client, &f.pair.client_if, dst)?;
        got = stats(&f.ns, &f.sock)?;
        if got["new_connections"] == u64::from(FLOWS) {
            break;
        }
    }
    if got["new_connections"] != u64::from(FLOWS) {
        return Err(format!("userspace stats after {FLOWS} SYNs: {got}").into());
    }
    let pkts = got["vips"][0]["packets"].as_u64().unwrap_or(0);
    if pkts < u64::from(FLOWS) {
        return Err(format!("vip packets {pkts}: {got}").into());
    }
    f.lb_stop()?;
    let _ = std::fs::remove_dir_all(&f.tmp);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let req = [Requirement::Root, Requirement::Bpf];
    let tests = vec![
        privileged_trial(
            "lb_kernel_restart_adopts_the_pinned_datapath",
            &req,
            kernel_restart_adopts_the_pinned_datapath,
        ),
        privileged_trial(
            "lb_userspace_daemon_serves_the_workers_maps",
            &req,
            userspace_daemon_serves_the_workers_maps,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
