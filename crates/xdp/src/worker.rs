//! The per-queue worker loop: receive a batch, run the program on each
//! packet, apply the verdicts, flush.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::afpacket::PacketSocket;
use crate::tap::Tap;
use crate::xsk::{Desc, XskSocket};

/// What the program decided for a packet (`enum xdp_action`, plus the
/// target of a redirect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `XDP_ABORTED` (0), or a run that trapped: dropped and counted as an
    /// error.
    Aborted,
    /// `XDP_DROP` (1).
    Drop,
    /// `XDP_PASS` (2): to the kernel's stack.
    Pass,
    /// `XDP_TX` (3): back out of the receiving interface.
    Tx,
    /// `XDP_REDIRECT` (4) to the interface with this index.
    Redirect(u32),
}

impl Verdict {
    /// The index of the verdict in [`Counters`] (the action's number).
    pub fn index(self) -> usize {
        match self {
            Verdict::Aborted => 0,
            Verdict::Drop => 1,
            Verdict::Pass => 2,
            Verdict::Tx => 3,
            Verdict::Redirect(_) => 4,
        }
    }

    /// The action's name as the kernel spells it.
    pub const NAMES: [&'static str; 5] = [
        "XDP_ABORTED",
        "XDP_DROP",
        "XDP_PASS",
        "XDP_TX",
        "XDP_REDIRECT",
    ];
}

/// Runs the XDP program on one packet. `out` receives the packet as the
/// program left it (after `bpf_xdp_adjust_*` and writes); it is ignored
/// for drops.
pub trait PacketHandler {
    /// Handles one packet.
    fn handle(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Verdict;
}

impl<F: FnMut(&[u8], &mut Vec<u8>) -> Verdict> PacketHandler for F {
    fn handle(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Verdict {
        self(packet, out)
    }
}

/// Packets and bytes per verdict, plus errors, updated by one worker and
/// read by anyone (relaxed atomics: statistics, not synchronisation).
#[derive(Debug, Default)]
pub struct Counters {
    /// Packets per verdict ([`Verdict::index`]).
    pub packets: [AtomicU64; 5],
    /// Bytes (of the received packet) per verdict.
    pub bytes: [AtomicU64; 5],
    /// Packets that could not be forwarded as decided (no tx slot, no
    /// redirect target, too big for a frame): counted here as well as
    /// under their verdict.
    pub errors: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Packets per verdict.
    pub packets: [u64; 5],
    /// Bytes per verdict.
    pub bytes: [u64; 5],
    /// Forwarding errors.
    pub errors: u64,
}

impl CounterSnapshot {
    /// Packets over all verdicts.
    pub fn total_packets(&self) -> u64 {
        self.packets.iter().sum()
    }

    /// Adds another snapshot (summing workers).
    pub fn add(&mut self, o: &CounterSnapshot) {
        for i in 0..5 {
            self.packets[i] += o.packets[i];
            self.bytes[i] += o.bytes[i];
        }
        self.errors += o.errors;
    }

    /// The difference from an earlier snapshot.
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        let mut d = *self;
        for i in 0..5 {
            d.packets[i] -= earlier.packets[i].min(d.packets[i]);
            d.bytes[i] -= earlier.bytes[i].min(d.bytes[i]);
        }
        d.errors -= earlier.errors.min(d.errors);
        d
    }
}

impl Counters {
    fn count(&self, v: Verdict, len: usize) {
        self.packets[v.index()].fetch_add(1, Ordering::Relaxed);
        self.bytes[v.index()].fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        let mut s = CounterSnapshot::default();
        for i in 0..5 {
            s.packets[i] = self.packets[i].load(Ordering::Relaxed);
            s.bytes[i] = self.bytes[i].load(Ordering::Relaxed);
        }
        s.errors = self.errors.load(Ordering::Relaxed);
        s
    }
}

/// Packets handled per batch.
pub const BATCH: usize = 64;

/// Sends `XDP_REDIRECT` packets out of other interfaces: one send-only
/// AF_PACKET socket per target interface, opened on first use.
#[derive(Debug, Default)]
pub struct Redirector {
    senders: Vec<PacketSocket>,
    /// Targets that could not be opened (not retried).
    failed: Vec<u32>,
}

impl Redirector {
    /// Sends `frame` out of interface `ifindex`; false if it cannot.
    pub fn send(&mut self, ifindex: u32, frame: &[u8]) -> bool {
        if ifindex == 0 || self.failed.contains(&ifindex) {
            return false;
        }
        let i = match self.senders.iter().position(|s| s.ifindex() == ifindex) {
            Some(i) => i,
            None => match PacketSocket::sender(ifindex) {
                Ok(s) => {
                    self.senders.push(s);
                    self.senders.len() - 1
                }
                Err(_) => {
                    self.failed.push(ifindex);
                    return false;
                }
            },
        };
        self.senders[i].send(frame).is_ok()
    }
}

/// Drives `sock` until `stop` is set: each received packet goes through
/// `handler`; `XDP_TX` sends the result back out of the interface,
/// `XDP_PASS` writes it to `pass` (the kernel's stack receives it there)
/// or, without a tap, drops it and counts an error; `XDP_REDIRECT` to the
/// receiving interface goes back out like `XDP_TX`, to another interface
/// out of it through `redirect` (an error is counted when that fails).
pub fn run_xsk(
    sock: &mut XskSocket,
    handler: &mut dyn PacketHandler,
    pass: Option<&Tap>,
    redirect: &mut Redirector,
    counters: &Counters,
    stop: &AtomicBool,
) {
    let mut descs: Vec<Desc> = Vec::with_capacity(BATCH);
    let mut out: Vec<u8> = Vec::with_capacity(sock.frame_size() as usize);
    let ifindex = sock.ifindex();
    while !stop.load(Ordering::Relaxed) {
        if !sock.wait(100) {
            sock.flush();
            continue;
        }
        sock.receive(&mut descs, BATCH);
        for &d in &descs {
            out.clear();
            let len = d.len as usize;
            let verdict = handler.handle(sock.packet(d), &mut out);
            counters.count(verdict, len);
            match verdict {
                Verdict::Aborted | Verdict::Drop => sock.recycle(d),
                Verdict::Pass => {
                    match pass {
                        Some(tap) if tap.write(&out).is_ok() => {}
                        _ => {
                            counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    sock.recycle(d);
                }
                Verdict::Tx => send_back(sock, d, &out, counters),
                Verdict::Redirect(target) if target == ifindex => {
                    send_back(sock, d, &out, counters)
                }
                Verdict::Redirect(target) => {
                    if !redirect.send(target, &out) {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    sock.recycle(d);
                }
            }
        }
        sock.flush();
    }
    sock.flush();
}

fn send_back(sock: &mut XskSocket, d: Desc, out: &[u8], counters: &Counters) {
    match sock.rewrite(d, out) {
        Some(nd) => sock.transmit(nd),
        None => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            sock.recycle(d);
        }
    }
}

/// Drives an AF_PACKET socket until `stop` is set. The kernel has already
/// received every packet, so `XDP_DROP` cannot stop it reaching the stack
/// and `XDP_PASS` needs no re-injection; `XDP_TX` and redirects to the
/// same interface send the result out.
pub fn run_packet(
    sock: &mut PacketSocket,
    handler: &mut dyn PacketHandler,
    redirect: &mut Redirector,
    counters: &Counters,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 65536];
    let mut out: Vec<u8> = Vec::with_capacity(2048);
    let ifindex = sock.ifindex();
    while !stop.load(Ordering::Relaxed) {
        let n = match sock.recv(&mut buf, 100) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        out.clear();
        let verdict = handler.handle(&buf[..n], &mut out);
        counters.count(verdict, n);
        let send = matches!(verdict, Verdict::Tx)
            || matches!(verdict, Verdict::Redirect(t) if t == ifindex);
        if send && sock.send(&out).is_err() {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Verdict::Redirect(t) = verdict
            && t != ifindex
            && !redirect.send(t, &out)
        {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
