//! Active health checks: a TCP connect or an HTTP `GET` per backend, on an
//! interval, with rise/fall thresholds. One thread per check (checks are
//! few and mostly asleep); transitions are sent to the daemon's main loop,
//! which applies them to the rings.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::control::Vip;
use crate::daemon::config::{HealthCheck, Probe, parse_http_url};

/// The rise/fall state machine of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthState {
    /// Whether the backend counts as healthy.
    pub healthy: bool,
    ok_streak: u32,
    fail_streak: u32,
    rise: u32,
    fall: u32,
}

impl HealthState {
    /// Starts healthy: a daemon (re)starting must not take backends out of
    /// the rings before any check ran.
    pub fn new(rise: u32, fall: u32) -> HealthState {
        HealthState::starting(true, rise, fall)
    }

    /// Starts in the given state (a daemon that adopted a datapath where
    /// the backend was out of the ring starts it unhealthy).
    pub fn starting(healthy: bool, rise: u32, fall: u32) -> HealthState {
        HealthState {
            healthy,
            ok_streak: 0,
            fail_streak: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    /// Records one check's result; returns the new state on a transition
    /// (`fall` consecutive failures take a healthy backend out, `rise`
    /// consecutive successes bring an unhealthy one back).
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.ok_streak += 1;
            self.fail_streak = 0;
            if !self.healthy && self.ok_streak >= self.rise {
                self.healthy = true;
                return Some(true);
            }
        } else {
            self.fail_streak += 1;
            self.ok_streak = 0;
            if self.healthy && self.fail_streak >= self.fall {
                self.healthy = false;
                return Some(false);
            }
        }
        None
    }
}

/// Runs one probe against backend `addr`; `Err` says why it failed.
pub fn probe(addr: IpAddr, p: &Probe, timeout: Duration) -> Result<(), String> {
    match p {
        Probe::Tcp { port } => TcpStream::connect_timeout(&SocketAddr::new(addr, *port), timeout)
            .map(drop)
            .map_err(|e| format!("tcp {addr}:{port}: {e}")),
        Probe::Http { url } => http_get_status(url, timeout).and_then(|status| {
            if (200..400).contains(&status) {
                Ok(())
            } else {
                Err(format!("{url}: status {status}"))
            }
        }),
    }
}

/// The status code of `GET url` (HTTP/1.0, so the server closes).
fn http_get_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let deadline = Instant::now() + timeout;
    let (host, port, path) = parse_http_url(url)?;
    let sa = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address for {host}"))?;
    let mut s = TcpStream::connect_timeout(&sa, timeout).map_err(|e| format!("{url}: {e}"))?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
    let host_hdr = if sa.is_ipv6() && host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    // One write: a server may answer and close after the first segment.
    let req =
        format!("GET {path} HTTP/1.0\r\nHost: {host_hdr}\r\nUser-Agent: oxbpf-lb-health\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    // The status line is in the first bytes.
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let r = s.read(&mut buf[n..]).map_err(|e| format!("{url}: {e}"))?;
        if r == 0 {
            break;
        }
        n += r;
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code
            .parse()
            .map_err(|_| format!("{url}: bad status line {line:?}")),
        _ => Err(format!("{url}: bad status line {line:?}")),
    }
}

/// A health transition: (VIP, backend) became healthy or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    /// The VIP.
    pub vip: Vip,
    /// The backend.
    pub addr: IpAddr,
    /// Its new state.
    pub healthy: bool,
    /// The last probe's failure, if it failed.
    pub reason: Option<String>,
}

#[derive(Debug)]
struct Running {
    check: HealthCheck,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The running checks; [`Monitor::sync`] starts and stops them to match
/// the configuration.
#[derive(Debug)]
pub struct Monitor {
    tx: Sender<HealthEvent>,
    running: BTreeMap<(Vip, IpAddr), Running>,
}

impl Monitor {
    /// A monitor sending transitions to `tx`.
    pub fn new(tx: Sender<HealthEvent>) -> Monitor {
        Monitor {
            tx,
            running: BTreeMap::new(),
        }
    }

    /// Starts the checks in `wanted` that are not running (or whose
    /// settings changed) and stops the others.
    pub fn sync(&mut self, wanted: Vec<((Vip, IpAddr), HealthCheck, bool)>) {
        let initial: BTreeMap<_, _> = wanted.iter().map(|(k, _, h)| (*k, *h)).collect();
        let keep: BTreeMap<_, _> = wanted.into_iter().map(|(k, c, _)| (k, c)).collect();
        let stale: Vec<_> = self
            .running
            .iter()
            .filter(|(k, r)| keep.get(k) != Some(&r.check))
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            if let Some(r) = self.running.remove(&k) {
                r.stop.store(true, Ordering::Relaxed);
                // Not joined: a probe may be waiting on its timeout.
                drop(r.thread);
            }
        }
        for (k, check) in keep {
            if self.running.contains_key(&k) {
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let healthy = initial.get(&k).copied().unwrap_or(true);
            let thread = spawn_check(
                k,
                check.clone(),
                healthy,
                Arc::clone(&stop),
                self.tx.clone(),
            );
            self.running.insert(
                k,
                Running {
                    check,
                    stop,
                    thread,
                },
            );
        }
    }

    /// How many checks run.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether no check runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for r in self.running.values() {
            r.stop.store(true, Ordering::Relaxed);
        }
    }
}

fn spawn_check(
    (vip, addr): (Vip, IpAddr),
    check: HealthCheck,
    healthy: bool,
    stop: Arc<AtomicBool>,
    tx: Sender<HealthEvent>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let p = check.params;
        let mut st = HealthState::starting(healthy, p.rise, p.fall);
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let result = probe(addr, &check.probe, p.timeout);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(healthy) = st.record(result.is_ok()) {
                let ev = HealthEvent {
                    vip,
                    addr,
                    healthy,
                    reason: result.err(),
                };
                if tx.send(ev).is_err() {
                    break;
                }
            }
            // Sleep the rest of the interval in short steps, so a stopped
            // check ends soon.
            while !stop.load(Ordering::Relaxed) && started.elapsed() < p.interval {
                let left = p.interval.saturating_sub(started.elapsed());
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::config::HealthParams;
    use std::net::TcpListener;
    use std::sync::mpsc::channel;

    #[test]
    fn rise_and_fall_thresholds() {
        let mut s = HealthState::new(2, 3);
        assert!(s.healthy);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        // A success resets the failure streak.
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), Some(false));
        assert_eq!(s.record(false), None, "no second transition");
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(true));
        assert!(s.healthy);
        // Starting unhealthy (adopted out of the ring): `rise` successes
        // report it back.
        let mut s = HealthState::starting(false, 2, 3);
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(true));
    }

    #[test]
    fn tcp_probe_follows_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Duration::from_millis(500);
        assert!(probe(lo, &Probe::Tcp { port }, t).is_ok());
        drop(l);
        let e = probe(lo, &Probe::Tcp { port }, t).unwrap_err();
        assert!(e.starts_with(&format!("tcp 127.0.0.1:{port}: ")), "{e}");
    }

    fn serve_status(l: TcpListener, status: &'static str) -> JoinHandle<()> {
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                // The whole request, then the answer.
                let mut req = Vec::new();
                let mut buf = [0u8; 512];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            }
        })
    }

    #[test]
    fn http_probe_reads_the_status() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Duration::from_millis(1000);
        for (status, ok) in [("200 OK", true), ("302 Found", true), ("503 Busy", false)] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/health", l.local_addr().unwrap());
            let h = serve_status(l, status);
            let r = probe(lo, &Probe::Http { url }, t);
            assert_eq!(r.is_ok(), ok, "{status}: {r:?}");
            h.join().unwrap();
        }
    }

    #[test]
    fn monitor_reports_down_and_up_of_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let vip = crate::daemon::config::parse_vip("10.0.0.1:80/tcp").unwrap();
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        let params = HealthParams {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
            rise: 2,
            fall: 2,
        };
        let (tx, rx) = channel();
        let mut m = Monitor::new(tx);
        let check = HealthCheck {
            probe: Probe::Tcp { port },
            params,
        };
        m.sync(vec![((vip, addr), check.clone(), true)]);
        assert_eq!(m.len(), 1);
        drop(l);
        let down = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!((down.addr, down.healthy), (addr, false));
        assert!(down.reason.is_some());
        // Listen again on the same port: the backend comes back.
        let l2 = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let up = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!((up.addr, up.healthy), (addr, true));
        drop(l2);
        m.sync(Vec::new());
        assert!(m.is_empty());
    }
}
