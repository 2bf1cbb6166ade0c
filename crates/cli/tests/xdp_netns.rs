//! `oxbpf xdp attach` on a live interface, end to end: two network
//! namespaces joined by a veth pair (created and removed here, names unique
//! to the process, leftovers of killed runs removed first, one scenario at
//! a time). The server namespace runs `bpf/examples/parse.c` (counts IP
//! protocols, drops telnet, passes the rest) on its veth; the client
//! namespace sends real UDP and TCP.
//!
//! What each scenario shows:
//! - UDP echoes come back: XDP_PASS reaches the server's socket;
//! - a TCP connection to port 23 never completes and the listener accepts
//!   nothing: XDP_DROP keeps packets from the kernel's stack;
//! - the program's map counts the packets (`--maps-out` when stopping);
//! - userspace mode is real: while running the interface carries oxbpf's
//!   steering program and the oxbpf process holds an AF_XDP socket;
//! - after SIGINT or SIGTERM nothing stays attached and the TAP is gone;
//! - `--mode kernel` gives the same observable results, survives the
//!   command, refuses a second attach, and `detach` removes it.
//!
//! Root only: ignored with the reason otherwise, failing under
//! `OXBPF_REQUIRE_PRIVILEGED=1`.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed};
use oxbpf_testkit::netns::{VethPair, in_netns, ip};
use oxbpf_testkit::{Requirement, privileged_trial};

const PREFIX: &str = "oxcli";
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
static SERIAL: Mutex<()> = Mutex::new(());

type R<T> = Result<T, String>;

/// The test's namespaces (`pair.client`, `pair.server`, `pair.server_if`).
type Pair = VethPair;

fn new_pair(queues: u32) -> R<Pair> {
    VethPair::create(PREFIX, queues, CLIENT_IP, SERVER_IP)
}

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdp_netns");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> R<PathBuf> {
    oxbpf_testkit::bpf::example(name, &tmp())
}

/// Whether process `pid` holds a socket of family `AF_XDP` (pidfd_getfd
/// on each of its socket descriptors, then `SO_DOMAIN`).
fn process_has_xdp_socket(pid: u32) -> R<bool> {
    // SAFETY: plain syscalls; every returned fd is closed below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
    if pidfd < 0 {
        return Err(format!("pidfd_open: {}", std::io::Error::last_os_error()));
    }
    let mut found = false;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        if !target.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let Ok(n) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: duplicates the target's fd into ours; closed below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0) } as i32;
        if fd < 0 {
            continue;
        }
        let mut domain: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: an int option into an int of the size passed.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_DOMAIN,
                (&mut domain as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        // SAFETY: closing the duplicate we own.
        unsafe { libc::close(fd) };
        if rc == 0 && domain == libc::AF_XDP {
            found = true;
        }
    }
    // SAFETY: closing the pidfd we own.
    unsafe { libc::close(pidfd) };
    Ok(found)
}

/// Starts `oxbpf xdp attach` in the server namespace and waits for its
/// "attached" line.
fn start(pair: &Pair, obj: &Path, maps_out: &Path, extra: &[&str]) -> R<(Child, String)> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &pair.server])
        .arg(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["xdp", "attach", &pair.server_if])
        .arg(obj)
        .args(["--interval", "0", "--maps-out"])
        .arg(maps_out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn oxbpf: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).map_err(|e| e.to_string())?;
    if !first.starts_with("attached ") && !first.starts_with("{\"event\":\"attached\"") {
        let _ = child.kill();
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!(
            "oxbpf did not attach: {first:?} {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Keep reading the rest later through the child.
    child.stdout = None;
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut lines, &mut s);
        s
    });
    // Hand the reader to the caller through a leaked join handle: the
    // final lines are collected in `stop`.
    READER.lock().unwrap().replace(rest);
    Ok((child, first))
}

static READER: Mutex<Option<std::thread::JoinHandle<String>>> = Mutex::new(None);

fn stop(mut child: Child, signal: i32) -> R<String> {
    // The process is `ip netns exec`, which execs oxbpf: same pid.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let rest = READER
                .lock()
                .unwrap()
                .take()
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default();
            if !status.success() {
                return Err(format!("oxbpf exited with {status}; output {rest:?}"));
            }
            return Ok(rest);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("oxbpf did not stop within 10 s of the signal".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `n` ICMP echo requests to `to` from a raw socket (this thread's
/// namespace) and counts the echo replies.
fn ping(to: Ipv4Addr, n: u16) -> R<u32> {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 300_000,
    };
    // SAFETY: a timeval option of the size passed, on our socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    let mut replies = 0;
    for seq in 0..n {
        let mut req = [8u8, 0, 0, 0, 0x0b, 0xf0, 0, 0, b'o', b'x'];
        req[6..8].copy_from_slice(&seq.to_be_bytes());
        let sum = req
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let folded = (sum & 0xffff) + (sum >> 16);
        req[2..4].copy_from_slice(&(!(folded as u16)).to_be_bytes());
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(to.octets()),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `req` and `sa` are valid for the lengths passed.
        unsafe {
            libc::sendto(
                fd,
                req.as_ptr().cast(),
                req.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
        }
        let mut buf = [0u8; 128];
        // An echo reply (type 0) with our sequence number, after the IPv4 header.
        for _ in 0..3 {
            // SAFETY: `buf` is writable for its length.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if got < 28 {
                break;
            }
            let ihl = usize::from(buf[0] & 0xf) * 4;
            if buf[ihl] == 0 && buf[ihl + 6..ihl + 8] == seq.to_be_bytes() {
                replies += 1;
                break;
            }
        }
    }
    // SAFETY: closing our socket.
    unsafe { libc::close(fd) };
    Ok(replies)
}

/// Traffic and its observable results.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    icmp_replies: u32,
    udp_echoed: u32,
    telnet_connected: bool,
    telnet_accepted: bool,
}

fn traffic(pair: &Pair) -> R<Observed> {
    // Server: UDP echo on 9000, TCP listener on 23.
    let server = in_netns(&pair.server, || {
        let udp = UdpSocket::bind(SocketAddrV4::new(SERVER_IP, 9000)).map_err(|e| e.to_string())?;
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let tcp = TcpListener::bind(SocketAddrV4::new(SERVER_IP, 23)).map_err(|e| e.to_string())?;
        tcp.set_nonblocking(true).map_err(|e| e.to_string())?;
        let end = Instant::now() + Duration::from_secs(6);
        let mut accepted = false;
        let mut buf = [0u8; 64];
        while Instant::now() < end {
            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
            if tcp.accept().is_ok() {
                accepted = true;
            }
        }
        Ok(accepted)
    });
    std::thread::sleep(Duration::from_millis(200));
    let client = in_netns(&pair.client, || {
        let s = UdpSocket::bind(SocketAddrV4::new(CLIENT_IP, 0)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .map_err(|e| e.to_string())?;
        let to = SocketAddrV4::new(SERVER_IP, 9000);
        let mut echoed = 0;
        for i in 0..20u32 {
            let msg = format!("ping {i}");
            for _ in 0..3 {
                s.send_to(msg.as_bytes(), to).map_err(|e| e.to_string())?;
                let mut buf = [0u8; 64];
                if let Ok((n, _)) = s.recv_from(&mut buf)
                    && &buf[..n] == msg.as_bytes()
                {
                    echoed += 1;
                    break;
                }
            }
        }
        let telnet = TcpStream::connect_timeout(
            &SocketAddrV4::new(SERVER_IP, 23).into(),
            Duration::from_millis(1500),
        )
        .is_ok();
        let pings = ping(SERVER_IP, 5)?;
        Ok((echoed, telnet, pings))
    });
    let (udp_echoed, telnet_connected, icmp_replies) =
        client.join().map_err(|_| "client panicked")??;
    let telnet_accepted = server.join().map_err(|_| "server panicked")??;
    Ok(Observed {
        icmp_replies,
        udp_echoed,
        telnet_connected,
        telnet_accepted,
    })
}

fn count(maps: &serde_json::Value, proto: u8) -> u64 {
    let key = format!("{proto:02x}000000");
    maps["proto_count"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["key"] == key.as_str()))
        .and_then(|e| e["value"].as_str())
        .map(|v| {
            // Little-endian u64 in hex.
            (0..v.len() / 2)
                .filter_map(|i| u8::from_str_radix(&v[2 * i..2 * i + 2], 16).ok())
                .enumerate()
                .map(|(i, b)| u64::from(b) << (8 * i))
                .sum()
        })
        .unwrap_or(0)
}

fn userspace_scenario(signal: i32) -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let obj = example("parse")?;
    let pair = new_pair(1)?;
    let maps_out = tmp().join(format!("maps-{signal}.json"));
    let _ = std::fs::remove_file(&maps_out);
    let (child, first) = start(&pair, &obj, &maps_out, &["--mode", "userspace"])?;
    if !first.contains("mode=userspace") || !first.contains("af_xdp") {
        return Err(format!("attach line: {first:?}").into());
    }
    // Userspace mode is real: the steering program is on the interface and
    // the process holds an AF_XDP socket.
    let link = ip(&["-n", &pair.server, "link", "show", "dev", &pair.server_if])?;
    if !link.contains("oxbpf_steer") {
        return Err(format!("no steering program on the interface: {link}").into());
    }
    if !process_has_xdp_socket(child.id())? {
        return Err("the oxbpf process holds no AF_XDP socket".into());
    }
    let seen = traffic(&pair)?;
    let rest = stop(child, signal)?;
    let want = Observed {
        icmp_replies: 5,
        udp_echoed: 20,
        telnet_connected: false,
        telnet_accepted: false,
    };
    if seen != want {
        return Err(format!("observed {seen:?}, expected {want:?}; oxbpf said {rest:?}").into());
    }
    if !rest.contains("detached") || !rest.contains("drop") {
        return Err(format!("totals line: {rest:?}").into());
    }
    let maps: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&maps_out).map_err(|e| format!("{}: {e}", maps_out.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let (udp, tcp, icmp) = (count(&maps, 17), count(&maps, 6), count(&maps, 1));
    if udp < 20 || tcp < 1 || icmp < 5 {
        return Err(format!(
            "proto_count: udp {udp}, tcp {tcp}, icmp {icmp}; expected >= 20, >= 1, >= 5"
        )
        .into());
    }
    // Nothing left behind.
    let link = ip(&["-n", &pair.server, "link", "show"])?;
    if link.contains("xdp") || link.contains("oxp") {
        return Err(format!("left attached after stopping: {link}").into());
    }
    Ok(())
}

/// Runs the oxbpf command in the server's network namespace only (the
/// mount namespace stays, so kernel-mode pins outlive the command).
fn oxbpf_in_net(pair: &Pair, args: &[&str]) -> R<String> {
    let out = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{}", pair.server))
        .arg(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .map_err(|e| format!("nsenter oxbpf: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "oxbpf {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The same scenario with the program in the kernel: `attach --mode
/// kernel` returns at once and the program keeps working (it survives the
/// command); a second attach is refused; `detach --maps-out` gives the
/// same counters; afterwards nothing is attached or pinned.
fn kernel_mode_scenario() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let obj = example("parse")?;
    let pair = new_pair(1)?;
    let iface = pair.server_if.clone();
    let pins = Path::new("/sys/fs/bpf/oxbpf").join(&iface);
    // Leftovers of a killed run on the same (process-unique) name.
    let _ = std::fs::remove_dir_all(&pins);
    let o = obj.to_str().ok_or("path")?;
    let first = oxbpf_in_net(
        &pair,
        &[
            "xdp",
            "attach",
            &iface,
            o,
            "--mode",
            "kernel",
            "--xdp-mode",
            "generic",
        ],
    )?;
    if !first.starts_with(&format!("attached {iface} mode=kernel")) {
        return Err(format!("attach line: {first:?}").into());
    }
    let again = oxbpf_in_net(&pair, &["xdp", "attach", &iface, o, "--mode", "kernel"]);
    match again {
        Err(e) if e.contains("already has an XDP program attached") => {}
        other => return Err(format!("second attach: {other:?}").into()),
    }
    let link = ip(&["-n", &pair.server, "link", "show", "dev", &iface])?;
    if !link.contains("prog/xdp") || !link.contains("name parse") {
        return Err(format!("the program is not attached after the command exited: {link}").into());
    }
    let seen = traffic(&pair)?;
    let maps_out = tmp().join("maps-kernel.json");
    let _ = std::fs::remove_file(&maps_out);
    let m = maps_out.to_str().ok_or("path")?;
    oxbpf_in_net(&pair, &["xdp", "detach", &iface, "--maps-out", m])?;
    let want = Observed {
        icmp_replies: 5,
        udp_echoed: 20,
        telnet_connected: false,
        telnet_accepted: false,
    };
    if seen != want {
        return Err(
            format!("observed {seen:?}, expected {want:?} (same as userspace mode)").into(),
        );
    }
    let maps: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&maps_out).map_err(|e| format!("{}: {e}", maps_out.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let (udp, tcp, icmp) = (count(&maps, 17), count(&maps, 6), count(&maps, 1));
    if udp < 20 || tcp < 1 || icmp < 5 {
        return Err(format!(
            "proto_count: udp {udp}, tcp {tcp}, icmp {icmp}; expected >= 20, >= 1, >= 5"
        )
        .into());
    }
    let link = ip(&["-n", &pair.server, "link", "show", "dev", &iface])?;
    if link.contains("xdp") || pins.exists() {
        return Err(format!("left attached or pinned after detach: {link}").into());
    }
    Ok(())
}

/// AF_PACKET fallback: the program sees every packet (counts them) and
/// UDP still works, but the kernel receives every packet too, so the
/// telnet drop cannot stop the connection: the documented limitation,
/// checked so the documentation stays true.
fn af_packet_scenario() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let obj = example("parse")?;
    let pair = new_pair(1)?;
    let maps_out = tmp().join("maps-afpacket.json");
    let _ = std::fs::remove_file(&maps_out);
    let (child, first) = start(&pair, &obj, &maps_out, &["--source", "af_packet"])?;
    if !first.contains("source=af_packet") {
        return Err(format!("attach line: {first:?}").into());
    }
    let seen = traffic(&pair)?;
    let rest = stop(child, libc::SIGINT)?;
    let want = Observed {
        icmp_replies: 5,
        udp_echoed: 20,
        telnet_connected: true,
        telnet_accepted: true,
    };
    if seen != want {
        return Err(format!("observed {seen:?}, expected {want:?}; oxbpf said {rest:?}").into());
    }
    let maps: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&maps_out).map_err(|e| format!("{}: {e}", maps_out.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let (udp, tcp, icmp) = (count(&maps, 17), count(&maps, 6), count(&maps, 1));
    if udp < 20 || tcp < 1 || icmp < 5 {
        return Err(format!(
            "proto_count: udp {udp}, tcp {tcp}, icmp {icmp}; expected >= 20, >= 1, >= 5"
        )
        .into());
    }
    Ok(())
}

/// Two receive queues, two workers: 256 UDP flows spread over both
/// queues and each worker handles some (its own per-CPU slot).
fn two_queue_scenario() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let obj = example("parse")?;
    let pair = new_pair(2)?;
    let maps_out = tmp().join("maps-2q.json");
    let (child, first) = start(&pair, &obj, &maps_out, &["--json", "--queues", "2"])?;
    let attached: serde_json::Value = serde_json::from_str(&first).map_err(|e| e.to_string())?;
    if attached["queues"] != 2 {
        return Err(format!("attach event: {first}").into());
    }
    // Ordinary UDP sockets, one per flow: the client's stack spreads
    // flows over the veth's transmit queues by flow hash, and a veth
    // delivers on the receive queue of the same number.
    let sent = in_netns(&pair.client, || {
        let mut sent = 0u64;
        for flow in 0..256u16 {
            let s = UdpSocket::bind(SocketAddrV4::new(CLIENT_IP, 20_000 + flow))
                .map_err(|e| e.to_string())?;
            for _ in 0..40 {
                s.send_to(b"spread", SocketAddrV4::new(SERVER_IP, 7000))
                    .map_err(|e| e.to_string())?;
                sent += 1;
            }
            // Paced, flow by flow: every packet must be handled, and an
            // unpaced burst of 10,240 can overrun the receive rings while
            // a busy 2-core machine has the workers off the CPU.
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(sent)
    })
    .join()
    .map_err(|_| "client panicked")??;
    std::thread::sleep(Duration::from_millis(300));
    let rest = stop(child, libc::SIGINT)?;
    let last = rest.lines().last().unwrap_or_default();
    let detached: serde_json::Value =
        serde_json::from_str(last).map_err(|e| format!("{e}: {rest}"))?;
    let per_worker: Vec<u64> = detached["workers"]
        .as_array()
        .ok_or("no workers")?
        .iter()
        .map(|w| w["packets"]["XDP_PASS"].as_u64().unwrap_or(0))
        .collect();
    if per_worker.len() != 2 || per_worker.contains(&0) {
        return Err(
            format!("packets per worker {per_worker:?}: both queues must be served").into(),
        );
    }
    if per_worker.iter().sum::<u64>() < sent {
        return Err(format!("{per_worker:?} handled, {sent} sent").into());
    }
    Ok(())
}

/// XDP_REDIRECT through a devmap to another interface: client - (r0)
/// router (r1) - sink. `redirect.c`'s `to_port` runs in userspace on r0 and
/// redirects every packet to `tx_ports[rx_queue]`, set by `--maps-in` to
/// r1's index; a raw socket on the sink's end counts what comes out of r1.
fn redirect_scenario() -> Result<(), Failed> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let obj = example("redirect")?;
    let p = format!("oxrd{}", std::process::id() % 100_000);
    let (client, router, sink) = (format!("{p}c"), format!("{p}r"), format!("{p}s"));
    struct Ns(Vec<String>);
    impl Drop for Ns {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = ip(&["netns", "del", n]);
            }
        }
    }
    for n in [&client, &router, &sink] {
        let _ = ip(&["netns", "del", n]);
        ip(&["netns", "add", n])?;
    }
    let _ns = Ns(vec![client.clone(), router.clone(), sink.clone()]);
    let (c0, r0, r1, s1) = (
        format!("{p}c0"),
        format!("{p}r0"),
        format!("{p}r1"),
        format!("{p}s1"),
    );
    #[rustfmt::skip]
    ip(&["link", "add", &c0, "netns", &client, "type", "veth", "peer", "name", &r0, "netns", &router])?;
    #[rustfmt::skip]
    ip(&["link", "add", &r1, "netns", &router, "type", "veth", "peer", "name", &s1, "netns", &sink])?;
    ip(&["-n", &client, "addr", "add", "10.81.0.1/24", "dev", &c0])?;
    ip(&["-n", &router, "addr", "add", "10.81.0.2/24", "dev", &r0])?;
    for (ns, dev) in [(&client, &c0), (&router, &r0), (&router, &r1), (&sink, &s1)] {
        ip(&["-n", ns, "link", "set", dev, "up"])?;
    }
    let shown = ip(&["-n", &router, "-o", "link", "show", "dev", &r1])?;
    let r1_index: u32 = shown
        .split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no ifindex in {shown:?}"))?;
    let maps_in = tmp().join("redirect-in.json");
    std::fs::write(
        &maps_in,
        format!(
            "{{\"tx_ports\": [{{\"key\": \"00000000\", \"value\": \"{}\"}}]}}",
            r1_index
                .to_le_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    )
    .map_err(|e| e.to_string())?;
    // The sink counts frames carrying our marker.
    let sink_if = s1.clone();
    let counter = in_netns(&sink, move || {
        let mut sock =
            oxbpf_xdp::afpacket::PacketSocket::open(&sink_if).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 2048];
        let end = Instant::now() + Duration::from_secs(5);
        let mut seen = 0u32;
        while Instant::now() < end {
            if let Ok(Some(n)) = sock.recv(&mut buf, 100)
                && buf[..n].windows(10).any(|w| w == b"redirected")
            {
                seen += 1;
            }
        }
        Ok(seen)
    });
    let mut child = Command::new("ip")
        .args(["netns", "exec", &router])
        .arg(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["xdp", "attach", &r0])
        .arg(&obj)
        .args(["--prog", "to_port", "--interval", "0", "--maps-in"])
        .arg(&maps_in)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut first = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    lines.read_line(&mut first).map_err(|e| e.to_string())?;
    if !first.starts_with("attached ") {
        let _ = child.kill();
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!("attach: {first:?} {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let sent = in_netns(&client, || {
        let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::new(10, 81, 0, 1), 0))
            .map_err(|e| e.to_string())?;
        for i in 0..10u32 {
            s.send_to(
                format!("redirected {i}").as_bytes(),
                SocketAddrV4::new(Ipv4Addr::new(10, 81, 0, 2), 9),
            )
            .map_err(|e| e.to_string())?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(10u32)
    })
    .join()
    .map_err(|_| "client panicked")??;
    let seen = counter.join().map_err(|_| "sink panicked")??;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().map_err(|e| e.to_string())?;
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut lines, &mut rest);
    if !status.success() {
        return Err(format!("oxbpf exited with {status}: {rest}").into());
    }
    if seen != sent {
        return Err(format!(
            "{seen} of {sent} redirected packets left through {r1}; oxbpf said {rest:?}"
        )
        .into());
    }
    if !rest.contains("redirect") {
        return Err(format!("totals line without redirects: {rest:?}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let req = [Requirement::Root, Requirement::Bpf];
    let tests = vec![
        privileged_trial("userspace_mode_real_traffic_sigint", &req, || {
            userspace_scenario(libc::SIGINT)
        }),
        privileged_trial("userspace_mode_real_traffic_sigterm", &req, || {
            userspace_scenario(libc::SIGTERM)
        }),
        privileged_trial(
            "af_packet_fallback_sees_but_cannot_drop",
            &req,
            af_packet_scenario,
        ),
        privileged_trial("two_queues_two_workers", &req, two_queue_scenario),
        privileged_trial(
            "kernel_mode_same_traffic_same_results",
            &req,
            kernel_mode_scenario,
        ),
        privileged_trial(
            "userspace_redirect_through_a_devmap",
            &req,
            redirect_scenario,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
