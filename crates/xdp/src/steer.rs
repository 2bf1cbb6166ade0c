//! The steering program: a small XDP program oxbpf loads into the kernel
//! on an interface to send selected packets to its AF_XDP sockets and pass
//! the rest to the kernel's stack.
//!
//! It redirects through an `xskmap` indexed by the receive queue
//! (`bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS)`: an empty slot
//! passes the packet). What is selected is either every packet
//! ([`Selection::All`]) or the IPv4 packets whose destination matches an
//! entry of the `select` hash map ([`Selection::Match`]), keyed by
//! [`SelectKey`]: destination address, destination port and protocol, with
//! zero address or zero port as wildcards. The map can be changed while
//! running ([`Steering::select`]).
//!
//! The link is not pinned: it lives as long as the [`Steering`] value (and
//! the process), so a killed worker leaves nothing attached.

use std::net::Ipv4Addr;

use oxbpf_isa::{asm::assemble, encode};
use oxbpf_kernel::{KernelMap, KernelProgram, MapSpec, ProgramSpec, XdpLink, XdpMode};

use crate::error::{Result, XdpError};
use oxbpf_abi::map_kind::MapKind;

/// Which packets go to userspace.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    /// IP traffic: every IPv4 packet and every IPv6 packet except ICMPv6
    /// (neighbour discovery). ARP and the rest stay with the kernel, so
    /// the host keeps resolving its neighbours on the interface itself
    /// while the program sees all IP traffic.
    #[default]
    Ip,
    /// Every frame received on the interface, ARP included. The kernel
    /// then sees only what the program passes, through the TAP device:
    /// neighbour resolution on the interface breaks unless the program
    /// handles ARP itself.
    All,
    /// IPv4 TCP/UDP/ICMP packets matching one of these keys.
    Match(Vec<SelectKey>),
}

/// One entry of the selection map: `struct { __be32 daddr; __be16 dport;
/// __u8 proto; __u8 pad; }`. An address or port of zero matches any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SelectKey {
    /// Destination address (any when unspecified).
    pub daddr: Ipv4Addr,
    /// Destination port for TCP and UDP (0: any; ignored for ICMP).
    pub dport: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP).
    pub proto: u8,
}

impl SelectKey {
    /// The map key bytes (address and port in network order).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&self.daddr.octets());
        k[4..6].copy_from_slice(&self.dport.to_be_bytes());
        k[6] = self.proto;
        k
    }

    /// Parses `PROTO[:PORT][@ADDR]`, e.g. `udp:9000`, `tcp@10.0.0.1`,
    /// `icmp`, `udp:53@10.1.1.1`.
    pub fn parse(spec: &str) -> Result<SelectKey> {
        let bad = |reason: String| XdpError::Invalid {
            what: "steering selection",
            reason: format!(
                "{spec:?}: {reason} (expected PROTO[:PORT][@ADDR], e.g. udp:9000@10.0.0.2)"
            ),
        };
        let (rest, daddr) = match spec.split_once('@') {
            Some((r, a)) => (
                r,
                a.parse::<Ipv4Addr>()
                    .map_err(|_| bad(format!("{a:?} is not an IPv4 address")))?,
            ),
            None => (spec, Ipv4Addr::UNSPECIFIED),
        };
        let (proto, port) = match rest.split_once(':') {
            Some((p, port)) => (
                p,
                port.parse::<u16>()
                    .map_err(|_| bad(format!("{port:?} is not a port number")))?,
            ),
            None => (rest, 0),
        };
        let proto = match proto {
            "tcp" => 6,
            "udp" => 17,
            "icmp" => 1,
            other => {
                return Err(bad(format!(
                    "unknown protocol {other:?} (tcp, udp or icmp)"
                )));
            }
        };
        if proto == 1 && port != 0 {
            return Err(bad("icmp has no ports".into()));
        }
        Ok(SelectKey {
            daddr,
            dport: port,
            proto,
        })
    }
}

/// `bpf_redirect_map(&xsks, rx_queue_index, XDP_PASS)`.
const STEER_ALL: &str = "
    ldxw %r2, [%r1+16]
    lddw %r1, map_fd XSKS
    mov %r3, 2
    call 51
    exit
";

/// IPv4, and IPv6 unless the next header is ICMPv6, as [`STEER_ALL`];
/// the rest passes.
const STEER_IP: &str = "
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 14
    jgt %r4, %r3, pass
    ldxh %r5, [%r2+12]
    jeq %r5, 0x0008, take
    jne %r5, 0xdd86, pass
    mov %r4, %r2
    add %r4, 54
    jgt %r4, %r3, pass
    ldxb %r5, [%r2+20]
    jeq %r5, 58, pass
take:
    ldxw %r2, [%r1+16]
    lddw %r1, map_fd XSKS
    mov %r3, 2
    call 51
    exit
pass:
    mov %r0, 2
    exit
";

/// Parses Ethernet / IPv4 (any IHL) / TCP, UDP or ICMP and looks the
/// destination up in `select` three times, from the most to the least
/// specific key: (addr, port), (any, port), (addr, any), (any, any); a hit
/// redirects like [`STEER_ALL`], anything else passes.
const STEER_MATCH: &str = "
    mov %r6, %r1
    ldxw %r2, [%r6+0]
    ldxw %r3, [%r6+4]
    mov %r4, %r2
    add %r4, 34
    jgt %r4, %r3, pass
    ldxh %r5, [%r2+12]
    jne %r5, 0x0008, pass
    ldxb %r7, [%r2+23]
    ldxw %r8, [%r2+30]
    mov %r9, 0
    jeq %r7, 1, lookup
    jeq %r7, 6, ports
    jne %r7, 17, pass
ports:
    ldxb %r5, [%r2+14]
    and %r5, 15
    lsh %r5, 2
    jlt %r5, 20, pass
    add %r2, %r5
    mov %r4, %r2
    add %r4, 18
    jgt %r4, %r3, pass
    ldxh %r9, [%r2+16]
lookup:
    stxw [%r10-8], %r8
    stxh [%r10-4], %r9
    stxb [%r10-2], %r7
    mov %r1, 0
    stxb [%r10-1], %r1
    lddw %r1, map_fd SELECT
    mov %r2, %r10
    add %r2, -8
    call 1
    jne %r0, 0, hit
    mov %r1, 0
    stxw [%r10-8], %r1
    lddw %r1, map_fd SELECT
    mov %r2, %r10
    add %r2, -8
    call 1
    jne %r0, 0, hit
    stxw [%r10-8], %r8
    mov %r1, 0
    stxh [%r10-4], %r1
    lddw %r1, map_fd SELECT
    mov %r2, %r10
    add %r2, -8
    call 1
    jne %r0, 0, hit
    mov %r1, 0
    stxw [%r10-8], %r1
    lddw %r1, map_fd SELECT
    mov %r2, %r10
    add %r2, -8
    call 1
    jne %r0, 0, hit
pass:
    mov %r0, 2
    exit
hit:
    ldxw %r2, [%r6+16]
    lddw %r1, map_fd XSKS
    mov %r3, 2
    call 51
    exit
";

/// The steering program attached to one interface, with its maps.
#[derive(Debug)]
pub struct Steering {
    // Field order is drop order: detach first, then the program and maps.
    link: XdpLink,
    _prog: KernelProgram,
    xsks: KernelMap,
    select: Option<KernelMap>,
    iface: String,
}

impl Steering {
    /// Loads the steering program for `selection` and attaches it to
    /// `iface` (index `ifindex`) in `mode`, with an `xskmap` of `queues`
    /// slots, empty until [`Steering::insert`] fills them.
    pub fn attach(
        iface: &str,
        ifindex: u32,
        queues: u32,
        selection: &Selection,
        mode: XdpMode,
    ) -> Result<Steering> {
        let kerr = |source| XdpError::Steering {
            iface: iface.to_string(),
            source,
        };
        let xsks = KernelMap::create(&MapSpec::new("oxbpf_xsks", MapKind::Xskmap, 4, 4, queues))
            .map_err(kerr)?;
        let (text, select) = match selection {
            Selection::Ip => (STEER_IP.replace("XSKS", &xsks.raw_fd().to_string()), None),
            Selection::All => (STEER_ALL.replace("XSKS", &xsks.raw_fd().to_string()), None),
            Selection::Match(keys) => {
                let select = KernelMap::create(&MapSpec::new(
                    "oxbpf_select",
                    MapKind::Hash,
                    8,
                    1,
                    keys.len().max(1).next_power_of_two().max(64) as u32,
                ))
                .map_err(kerr)?;
                for k in keys {
                    select.update(&k.to_bytes(), &[1], 0).map_err(kerr)?;
                }
                (
                    STEER_MATCH
                        .replace("XSKS", &xsks.raw_fd().to_string())
                        .replace("SELECT", &select.raw_fd().to_string()),
                    Some(select),
                )
            }
        };
        let insns = assemble(&text).map_err(|e| XdpError::Invalid {
            what: "steering program",
            reason: e.to_string(),
        })?;
        let raw = encode(&insns);
        let prog = KernelProgram::load(&ProgramSpec::xdp("oxbpf_steer", &raw)).map_err(kerr)?;
        let link = XdpLink::attach(&prog, ifindex, mode).map_err(kerr)?;
        Ok(Steering {
            link,
            _prog: prog,
            xsks,
            select,
            iface: iface.to_string(),
        })
    }

    /// Sends queue `queue`'s selected packets to the socket `fd`.
    pub fn insert(&self, queue: u32, fd: i32) -> Result<()> {
        self.xsks
            .update(&queue.to_ne_bytes(), &fd.to_ne_bytes(), 0)
            .map_err(|source| XdpError::Steering {
                iface: self.iface.clone(),
                source,
            })
    }

    /// Adds a selection entry (with [`Selection::Match`]).
    pub fn select(&self, key: SelectKey) -> Result<()> {
        let Some(map) = &self.select else {
            return Err(XdpError::Invalid {
                what: "steering selection",
                reason: "the steering program was attached without a selection map".into(),
            });
        };
        map.update(&key.to_bytes(), &[1], 0)
            .map_err(|source| XdpError::Steering {
                iface: self.iface.clone(),
                source,
            })
    }

    /// How the program is attached.
    pub fn mode(&self) -> XdpMode {
        self.link.mode()
    }

    /// The kernel's id of the attached link (as `bpftool link` shows).
    pub fn link_id(&self) -> Option<u32> {
        self.link.info().ok().map(|i| i.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_programs_assemble() {
        for text in [STEER_ALL, STEER_IP, STEER_MATCH] {
            let t = text.replace("XSKS", "3").replace("SELECT", "4");
            assert!(assemble(&t).is_ok(), "{:?}", assemble(&t).err());
        }
    }

    #[test]
    fn selection_parses() {
        let k = SelectKey::parse("udp:9000@10.0.0.2").unwrap();
        assert_eq!(k.to_bytes(), [10, 0, 0, 2, 0x23, 0x28, 17, 0]);
        assert_eq!(
            SelectKey::parse("tcp").unwrap().to_bytes(),
            [0, 0, 0, 0, 0, 0, 6, 0]
        );
        assert_eq!(SelectKey::parse("icmp@1.2.3.4").unwrap().proto, 1);
        for bad in ["sctp", "udp:x", "udp:70000", "icmp:5", "udp@300.1.1.1"] {
            assert!(SelectKey::parse(bad).is_err(), "{bad}");
        }
    }
}
