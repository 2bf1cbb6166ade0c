//! XDP in userspace on a live interface: an object's XDP program runs on
//! oxbpf's engines, fed by AF_XDP sockets (or an AF_PACKET socket), one
//! worker thread per receive queue.
//!
//! [`UserspaceXdp::attach`] loads oxbpf's steering program on the interface
//! (see [`oxbpf_xdp::steer`]), opens one AF_XDP socket per queue and starts
//! a worker for each; each worker runs the program as its own CPU (worker
//! `i` is CPU `i`: its own per-CPU map slots) and applies the verdicts:
//! `XDP_TX` sends the packet back out of the interface, `XDP_PASS` hands it
//! to the kernel's stack through a TAP device (see [`oxbpf_xdp::tap`]),
//! `XDP_DROP` recycles the frame, `XDP_REDIRECT` to another interface
//! (`bpf_redirect`, a devmap) sends it out of that interface,
//! `XDP_ABORTED` (or a trapped run) counts an error and drops. Dropping the value (or [`UserspaceXdp::stop`])
//! stops the workers and detaches everything; nothing is pinned, so a
//! killed process leaves nothing behind either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use oxbpf_kernel::XdpMode;
use oxbpf_xdp::XdpError;
use oxbpf_xdp::afpacket::PacketSocket;
use oxbpf_xdp::steer::{Selection, Steering};
use oxbpf_xdp::tap::Tap;
use oxbpf_xdp::worker::{
    CounterSnapshot, Counters, PacketHandler, Redirector, Verdict, run_packet, run_xsk,
};
use oxbpf_xdp::xsk::{BindRequest, XskConfig, XskSocket, ifindex};

use crate::{Error, RunOptions, Runner, XdpSession};

/// Where packets come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// AF_XDP, falling back to AF_PACKET if the kernel refuses AF_XDP.
    #[default]
    Auto,
    /// AF_XDP only.
    AfXdp,
    /// AF_PACKET only (the kernel's stack sees every packet too).
    AfPacket,
}

/// How to attach.
#[derive(Clone, Debug)]
pub struct UserspaceConfig {
    /// Packet source.
    pub backend: Backend,
    /// Receive queues to serve (one worker each); `None`: every queue the
    /// interface has.
    pub queues: Option<u32>,
    /// Which packets the steering program sends to userspace.
    pub selection: Selection,
    /// How the steering program is attached.
    pub steer_mode: XdpMode,
    /// Zero-copy or copy binding.
    pub bind: BindRequest,
    /// Re-inject `XDP_PASS` packets through a TAP device (default true);
    /// without it they are dropped and counted as errors.
    pub pass_to_stack: bool,
}

impl Default for UserspaceConfig {
    fn default() -> UserspaceConfig {
        UserspaceConfig {
            backend: Backend::Auto,
            queues: None,
            selection: Selection::Ip,
            steer_mode: XdpMode::Auto,
            bind: BindRequest::Auto,
            pass_to_stack: true,
        }
    }
}

/// The number of receive queues of `iface` (`/sys/class/net/IFACE/queues/rx-*`).
pub fn rx_queues(iface: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{iface}/queues"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count() as u32
        })
        .unwrap_or(1)
        .max(1)
}

/// What is running: the packet source actually used, per worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachInfo {
    /// The interface.
    pub iface: String,
    /// Workers (= queues served).
    pub queues: u32,
    /// "af_xdp (copy)", "af_xdp (zero-copy)" or "af_packet".
    pub source: String,
    /// The steering program's link id, with AF_XDP.
    pub steering_link: Option<u32>,
    /// The TAP device `XDP_PASS` packets go to, if any.
    pub pass_tap: Option<String>,
    /// Why AF_XDP was not used, when [`Backend::Auto`] fell back to
    /// AF_PACKET.
    pub fallback_reason: Option<String>,
}

/// An XDP program running in userspace on an interface.
#[derive(Debug)]
pub struct UserspaceXdp {
    info: AttachInfo,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    counters: Vec<Arc<Counters>>,
    // Dropped after the workers are joined (field order = drop order is
    // not relied on: `shutdown` joins first).
    steering: Option<Steering>,
    _tap: Option<Arc<Tap>>,
}

/// Runs the program through a session; verdicts from the return value.
struct Handler<'r> {
    session: XdpSession<'r>,
}

impl PacketHandler for Handler<'_> {
    fn handle(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Verdict {
        match self.session.run(packet) {
            Ok(ret) => {
                let v = match ret {
                    1 => Verdict::Drop,
                    2 => Verdict::Pass,
                    3 => Verdict::Tx,
                    // Out of an interface (devmap or bpf_redirect); an
                    // xskmap target or none counts as an error.
                    4 => match self.session.redirect() {
                        Some(oxbpf_runtime::tail_call::Redirect::Ifindex(i)) => {
                            Verdict::Redirect(i)
                        }
                        _ => Verdict::Redirect(0),
                    },
                    // XDP_ABORTED and unknown actions (the kernel's
                    // bpf_warn_invalid_xdp_action also drops them).
                    _ => Verdict::Aborted,
                };
                if matches!(v, Verdict::Tx | Verdict::Pass | Verdict::Redirect(_)) {
                    out.extend_from_slice(self.session.packet());
                }
                v
            }
            // A trapped run (checked mode) or an unusable packet.
            Err(_) => Verdict::Aborted,
        }
    }
}

fn xdp_err(e: XdpError) -> Error {
    Error::Userspace {
        message: e.to_string(),
    }
}

impl UserspaceXdp {
    /// Starts running `runner` (an XDP program) on `iface`.
    pub fn attach(
        runner: Arc<Runner>,
        iface: &str,
        cfg: &UserspaceConfig,
    ) -> Result<UserspaceXdp, Error> {
        // Refuse a non-XDP program before touching the interface.
        drop(runner.xdp_session(RunOptions::default())?);
        let index = ifindex(iface).map_err(xdp_err)?;
        let queues = cfg.queues.unwrap_or_else(|| rx_queues(iface));
        if queues == 0 {
            return Err(Error::Userspace {
                message: "--queues must be at least 1".into(),
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let tap = if cfg.pass_to_stack {
            Some(Arc::new(
                Tap::create(&format!("oxp{index}"), Tap::mac_of(iface).map_err(xdp_err)?)
                    .map_err(xdp_err)?,
            ))
        } else {
            None
        };

        let mut fallback_reason = None;
        let afxdp = match cfg.backend {
            Backend::AfPacket => None,
            Backend::AfXdp => Some(open_afxdp(iface, index, queues, cfg).map_err(xdp_err)?),
            Backend::Auto => match open_afxdp(iface, index, queues, cfg) {
                Ok(v) => Some(v),
                Err(e) => {
                    fallback_reason = Some(e.to_string());
                    None
                }
            },
        };
        let mut workers = Vec::new();
        let mut counters = Vec::new();
        let (source, steering) = match afxdp {
            Some((steering, sockets)) => {
                let source = format!("af_xdp ({})", sockets[0].mode().name());
                for (q, mut sock) in sockets.into_iter().enumerate() {
                    let c = Arc::new(Counters::default());
                    counters.push(c.clone());
                    let (runner, stop, tap) = (runner.clone(), stop.clone(), tap.clone());
                    let opts = RunOptions {
                        cpu: q as u32,
                        ifindex: Some(index),
                        rx_queue: q as u32,
                    };
                    workers.push(std::thread::spawn(move || {
                        let Ok(session) = runner.xdp_session(opts) else {
                            return;
                        };
                        let mut h = Handler { session };
                        let mut redirect = Redirector::default();
                        run_xsk(&mut sock, &mut h, tap.as_deref(), &mut redirect, &c, &stop);
                    }));
                }
                (source, Some(steering))
            }
            None => {
                let mut sock = PacketSocket::open(iface).map_err(xdp_err)?;
                let c = Arc::new(Counters::default());
                counters.push(c.clone());
                let (runner, stop) = (runner.clone(), stop.clone());
                let opts = RunOptions {
                    cpu: 0,
                    ifindex: Some(index),
                    rx_queue: 0,
                };
                workers.push(std::thread::spawn(move || {
                    let Ok(session) = runner.xdp_session(opts) else {
                        return;
                    };
                    let mut h = Handler { session };
                    let mut redirect = Redirector::default();
                    run_packet(&mut sock, &mut h, &mut redirect, &c, &stop);
                }));
                ("af_packet".to_string(), None)
            }
        };
        Ok(UserspaceXdp {
            info: AttachInfo {
                iface: iface.to_string(),
                queues: counters.len() as u32,
                source,
                steering_link: steering.as_ref().and_then(Steering::link_id),
                pass_tap: tap.as_ref().map(|t| t.name().to_string()),
                fallback_reason,
            },
            stop,
            workers,
            counters,
            steering,
            _tap: tap,
        })
    }

    /// What was attached.
    pub fn info(&self) -> &AttachInfo {
        &self.info
    }

    /// The counters of each worker, now.
    pub fn counters(&self) -> Vec<CounterSnapshot> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// Stops the workers, detaches the steering program, removes the TAP
    /// device, and returns the final counters per worker.
    pub fn stop(mut self) -> Vec<CounterSnapshot> {
        self.shutdown();
        self.counters()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.steering = None;
    }
}

impl Drop for UserspaceXdp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn open_afxdp(
    iface: &str,
    index: u32,
    queues: u32,
    cfg: &UserspaceConfig,
) -> Result<(Steering, Vec<XskSocket>), XdpError> {
    let steering = Steering::attach(iface, index, queues, &cfg.selection, cfg.steer_mode)?;
    let xcfg = XskConfig {
        bind: cfg.bind,
        ..XskConfig::default()
    };
    let mut sockets = Vec::new();
    for q in 0..queues {
        let sock = XskSocket::open(iface, q, &xcfg)?;
        steering.insert(q, sock.raw_fd())?;
        sockets.push(sock);
    }
    Ok((steering, sockets))
}
