//! A small traffic generator: builds a mix of IPv4 UDP, TCP SYN and ICMP
//! echo packets over many flows, with valid checksums, and sends them out
//! of an interface as fast as it can (AF_PACKET, `sendmmsg` batches,
//! bypassing the qdisc), or at a set rate.
//!
//! Meant for benchmarks and tests inside network namespaces: send only to
//! addresses in namespaces you created.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Result, XdpError};
use crate::xsk::ifindex;

/// One kind of packet in the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// UDP to the destination port.
    Udp,
    /// TCP SYN to the destination port.
    Tcp,
    /// ICMP echo request.
    Icmp,
}

/// One entry of the mix: a protocol, a frame size, a weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixEntry {
    /// What to send.
    pub proto: Proto,
    /// Ethernet frame size in bytes (without FCS), at least the headers.
    pub size: usize,
    /// Relative share of packets.
    pub weight: u32,
}

impl MixEntry {
    /// Parses `PROTO[:SIZE][*WEIGHT]`, e.g. `udp:64`, `tcp:128*3`, `icmp`.
    pub fn parse(spec: &str) -> Result<MixEntry> {
        let bad = |reason: String| XdpError::Invalid {
            what: "packet mix",
            reason: format!("{spec:?}: {reason} (expected PROTO[:SIZE][*WEIGHT], e.g. udp:64*3)"),
        };
        let (rest, weight) = match spec.split_once('*') {
            Some((r, w)) => (
                r,
                w.parse::<u32>()
                    .ok()
                    .filter(|w| *w > 0)
                    .ok_or_else(|| bad(format!("weight {w:?} is not a positive number")))?,
            ),
            None => (spec, 1),
        };
        let (proto, size) = match rest.split_once(':') {
            Some((p, s)) => (
                p,
                Some(
                    s.parse::<usize>()
                        .map_err(|_| bad(format!("size {s:?} is not a number")))?,
                ),
            ),
            None => (rest, None),
        };
        let proto = match proto {
            "udp" => Proto::Udp,
            "tcp" => Proto::Tcp,
            "icmp" => Proto::Icmp,
            other => return Err(bad(format!("unknown protocol {other:?} (udp, tcp, icmp)"))),
        };
        let min = header_len(proto);
        let size = size.unwrap_or(min.max(64));
        if !(min..=1514).contains(&size) {
            return Err(bad(format!(
                "size {size} outside {min}..=1514 for this protocol"
            )));
        }
        Ok(MixEntry {
            proto,
            size,
            weight,
        })
    }
}

fn header_len(p: Proto) -> usize {
    14 + 20
        + match p {
            Proto::Udp => 8,
            Proto::Tcp => 20,
            Proto::Icmp => 8,
        }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Source MAC (the sending interface's).
    pub src_mac: [u8; 6],
    /// Destination MAC (the receiver's).
    pub dst_mac: [u8; 6],
    /// Source address.
    pub src_ip: Ipv4Addr,
    /// Destination address.
    pub dst_ip: Ipv4Addr,
    /// Destination port for UDP and TCP.
    pub dst_port: u16,
    /// Distinct flows (source ports, or ICMP ids), at least 1.
    pub flows: u16,
    /// The packet mix.
    pub mix: Vec<MixEntry>,
}

/// RFC 1071 checksum of `data`, starting from `sum`.
fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds one packet of `e` for flow `flow`.
pub fn build(cfg: &GenConfig, e: &MixEntry, flow: u16) -> Vec<u8> {
    let mut p = vec![0u8; e.size];
    p[0..6].copy_from_slice(&cfg.dst_mac);
    p[6..12].copy_from_slice(&cfg.src_mac);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (e.size - 14) as u16;
    let proto = match e.proto {
        Proto::Udp => 17,
        Proto::Tcp => 6,
        Proto::Icmp => 1,
    };
    {
        let ip = &mut p[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[4..6].copy_from_slice(&flow.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&cfg.src_ip.octets());
        ip[16..20].copy_from_slice(&cfg.dst_ip.octets());
        let c = checksum(ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let sport = 10_000u16.wrapping_add(flow);
    let l4_len = usize::from(ip_len) - 20;
    // Pseudo-header sum for TCP and UDP.
    let mut pseudo = 0u32;
    for w in [cfg.src_ip.octets(), cfg.dst_ip.octets()] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]))
            + u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo += u32::from(proto) + l4_len as u32;
    let l4 = &mut p[34..];
    match e.proto {
        Proto::Udp => {
            l4[0..2].copy_from_slice(&sport.to_be_bytes());
            l4[2..4].copy_from_slice(&cfg.dst_port.to_be_bytes());
            l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            let c = checksum(l4, pseudo);
            l4[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
        }
        Proto::Tcp => {
            l4[0..2].copy_from_slice(&sport.to_be_bytes());
            l4[2..4].copy_from_slice(&cfg.dst_port.to_be_bytes());
            l4[4..8].copy_from_slice(&u32::from(flow).to_be_bytes());
            l4[12] = 5 << 4;
            l4[13] = 0x02; // SYN
            l4[14..16].copy_from_slice(&64240u16.to_be_bytes());
            let c = checksum(l4, pseudo);
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
        Proto::Icmp => {
            l4[0] = 8; // echo request
            l4[4..6].copy_from_slice(&flow.to_be_bytes());
            let c = checksum(l4, 0);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
    }
    p
}

/// Every packet of the mix, in sending order: for each flow, each entry
/// `weight` times.
pub fn build_all(cfg: &GenConfig) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for flow in 0..cfg.flows.max(1) {
        for e in &cfg.mix {
            for _ in 0..e.weight {
                out.push(build(cfg, e, flow));
            }
        }
    }
    out
}

/// What a run sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Packets the kernel accepted for sending.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Sends refused (`ENOBUFS` and the like).
    pub errors: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Sends `packets` (cycling) out of `iface` until `duration` has passed,
/// `count` packets are sent, or `stop` is set; at most `rate` packets per
/// second when given.
pub fn send(
    iface: &str,
    packets: &[Vec<u8>],
    duration: Option<Duration>,
    count: Option<u64>,
    rate: Option<u64>,
    stop: &AtomicBool,
) -> Result<GenStats> {
    if packets.is_empty() {
        return Err(XdpError::Invalid {
            what: "packet mix",
            reason: "no packets to send".into(),
        });
    }
    let index = ifindex(iface)?;
    // SAFETY: plain socket(2) call; protocol 0: send only.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(XdpError::last_os("create AF_PACKET socket", iface));
    }
    // SAFETY: `raw` is a new descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: an int option of the size passed. Failure only costs speed.
    unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_ifindex = index as i32;
    sa.sll_halen = 6;
    // SAFETY: a valid sockaddr_ll of the size passed.
    if unsafe {
        libc::bind(
            raw,
            (&sa as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    } != 0
    {
        return Err(XdpError::last_os("bind AF_PACKET socket", iface));
    }

    const BATCH: usize = 64;
    let mut iov: Vec<libc::iovec> = packets
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { core::mem::zeroed() }).collect();
    let mut stats = GenStats::default();
    let start = Instant::now();
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed)
        && duration.is_none_or(|d| start.elapsed() < d)
        && count.is_none_or(|c| stats.packets < c)
    {
        let mut n = BATCH;
        if let Some(c) = count {
            n = n.min((c - stats.packets) as usize);
        }
        if let Some(r) = rate {
            // Pace: never ahead of `rate` packets per second.
            let allowed = (start.elapsed().as_secs_f64() * r as f64) as u64;
            if stats.packets >= allowed {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
            n = n.min((allowed - stats.packets) as usize);
        }
        for m in msgs.iter_mut().take(n) {
            m.msg_hdr.msg_iov = &mut iov[next];
            m.msg_hdr.msg_iovlen = 1;
            next = (next + 1) % packets.len();
        }
        // SAFETY: the first `n` headers point at iovecs of live packet
        // buffers; sendmmsg only reads them.
        let sent = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
        if sent < 0 {
            stats.errors += 1;
            // Give the receiver a moment (ENOBUFS).
            std::thread::yield_now();
            continue;
        }
        for m in msgs.iter().take(sent as usize) {
            stats.bytes += u64::from(m.msg_len);
        }
        stats.packets += sent as u64;
        if (sent as usize) < n {
            next = (next + packets.len() - (n - sent as usize) % packets.len()) % packets.len();
        }
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mix: &str) -> GenConfig {
        GenConfig {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            dst_port: 9,
            flows: 3,
            mix: mix
                .split(',')
                .map(|m| MixEntry::parse(m).unwrap())
                .collect(),
        }
    }

    #[test]
    fn checksums_verify() {
        for p in build_all(&cfg("udp:64,tcp:80*2,icmp:98")) {
            // The IPv4 header sums to zero with its checksum.
            assert_eq!(checksum(&p[14..34], 0), 0);
            let l4 = &p[34..];
            let proto = p[23];
            if proto == 1 {
                assert_eq!(checksum(l4, 0), 0);
            } else {
                let mut pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + u32::from(proto);
                pseudo += l4.len() as u32;
                assert_eq!(checksum(l4, pseudo), 0, "proto {proto}");
            }
        }
    }

    #[test]
    fn mix_and_flows() {
        let all = build_all(&cfg("udp:64,tcp:80*2"));
        assert_eq!(all.len(), 3 * 3);
        assert_eq!(all[0].len(), 64);
        assert_eq!(all[1].len(), 80);
        // Source ports differ per flow.
        assert_ne!(all[0][34..36], all[3][34..36]);
        for bad in ["sctp", "udp:10", "udp:2000", "tcp*0", "udp:x"] {
            assert!(MixEntry::parse(bad).is_err(), "{bad}");
        }
    }
}
