//! Byte layouts of the datapath's map keys and values (`bpf/balancer.h`).
//! Addresses are network-order bytes, scalars host (little-endian) order.

use std::net::IpAddr;

/// `F_ALL_PORTS`: the VIP matches every destination port.
pub const F_ALL_PORTS: u32 = 1 << 0;
/// `F_SRC_ONLY`: hash only the client address.
pub const F_SRC_ONLY: u32 = 1 << 1;
/// `F_QUIC`: route UDP by the QUIC server id when present.
pub const F_QUIC: u32 = 1 << 2;
/// `B_IPV6`: the backend is reached over IPv6.
pub const B_IPV6: u32 = 1 << 0;
/// `C_GUE`: encapsulate in GUE.
pub const C_GUE: u32 = 1 << 0;

/// `enum lb_counter` indices of the per-CPU `counters` map.
#[allow(missing_docs)]
pub mod counter {
    pub const CONN_LOCAL_HIT: u32 = 0;
    pub const CONN_SHARED_HIT: u32 = 1;
    pub const CONN_MISS: u32 = 2;
    pub const CONN_RECORDED: u32 = 3;
    pub const RATE_LIMITED: u32 = 4;
    pub const RST_NOT_RECORDED: u32 = 5;
    pub const QUIC_ROUTED: u32 = 6;
    pub const QUIC_FALLBACK: u32 = 7;
    pub const ICMP_ECHO: u32 = 8;
    pub const ICMP_TOO_BIG: u32 = 9;
    pub const PASS_NON_VIP: u32 = 10;
    pub const DROP_MALFORMED: u32 = 11;
    pub const DROP_IP_OPTIONS: u32 = 12;
    pub const DROP_FRAGMENT: u32 = 13;
    pub const DROP_NO_BACKEND: u32 = 14;
    pub const DROP_ENCAP: u32 = 15;
    /// Number of counters.
    pub const MAX: u32 = 16;
}

/// The 16 address bytes of a key: IPv4 in the first four.
pub fn addr16(a: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v) => b[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => b.copy_from_slice(&v.octets()),
    }
    b
}

/// `struct vip_key` (20 bytes).
pub fn vip_key(addr: IpAddr, port: u16, proto: u8) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(&addr16(addr));
    k[16..18].copy_from_slice(&port.to_be_bytes());
    k[18] = proto;
    k[19] = u8::from(addr.is_ipv6());
    k
}

/// `struct vip_meta` (8 bytes).
pub fn vip_meta(flags: u32, vip_num: u32) -> [u8; 8] {
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&flags.to_le_bytes());
    v[4..].copy_from_slice(&vip_num.to_le_bytes());
    v
}

/// `struct vip_addr` (20 bytes).
pub fn vip_addr(addr: IpAddr) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(&addr16(addr));
    k[16..].copy_from_slice(&u32::from(addr.is_ipv6()).to_le_bytes());
    k
}

/// `struct backend` (20 bytes).
pub fn backend(addr: IpAddr) -> [u8; 20] {
    let mut v = [0u8; 20];
    v[..16].copy_from_slice(&addr16(addr));
    let flags = if addr.is_ipv6() { B_IPV6 } else { 0 };
    v[16..].copy_from_slice(&flags.to_le_bytes());
    v
}

/// `struct lb_ctl` (36 bytes).
pub fn ctl(
    nexthop_mac: [u8; 6],
    gue_port: u16,
    src4: [u8; 4],
    src6: [u8; 16],
    max_new_per_sec: u32,
    flags: u32,
) -> [u8; 36] {
    let mut v = [0u8; 36];
    v[..6].copy_from_slice(&nexthop_mac);
    v[6..8].copy_from_slice(&gue_port.to_le_bytes());
    v[8..12].copy_from_slice(&src4);
    v[12..28].copy_from_slice(&src6);
    v[28..32].copy_from_slice(&max_new_per_sec.to_le_bytes());
    v[32..36].copy_from_slice(&flags.to_le_bytes());
    v
}

/// `struct flow_key` (40 bytes) of a client->VIP flow.
pub fn flow_key(f: &crate::flow::Flow) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..16].copy_from_slice(&addr16(f.src));
    k[16..32].copy_from_slice(&addr16(f.dst));
    k[32..34].copy_from_slice(&f.sport.to_be_bytes());
    k[34..36].copy_from_slice(&f.dport.to_be_bytes());
    k[36] = f.proto;
    k
}

/// `struct conn` (8 bytes).
pub fn conn(backend_id: u32) -> [u8; 8] {
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&backend_id.to_le_bytes());
    v
}
