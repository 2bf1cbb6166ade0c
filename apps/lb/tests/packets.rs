//! Packet cases of the load balancer datapath (issue 10 item 3): input frame,
//! configuration, expected verdict and the exact expected output frame, run
//! on interp, interp-fast, jit and the kernel (`BPF_PROG_TEST_RUN`).
//!
//! Expected frames are built here with etherparse and the Rust twins of the
//! datapath's choices (the Maglev ring of [`Balancer`] and
//! [`oxbpf_lb::flow::flow_hash`]), never captured from the datapath.
//!
//! Every engine runs the object as written (LRU connection tables); our
//! engines also run the `-DLB_NO_LRU` build (per-CPU hash + hash tables with
//! the same layouts), named `...-nolru`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Type, Icmpv6Type, IpNumber, Ipv4Header, Ipv6FlowLabel,
    Ipv6Header, PacketBuilder, UdpHeader, VlanId, icmpv4::DestUnreachableHeader,
};
use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf::{EngineKind, Loader, RunOptions};
use oxbpf_kernel::{KernelObject, LoadOptions, TestRun};
use oxbpf_lb::flow::{Flow, flow_hash};
use oxbpf_lb::{Balancer, Encap, GlobalConfig, MapTarget, Vip, VipOptions, abi};
use oxbpf_testkit::{Requirement, privileged_trial};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const LB_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const NEXTHOP: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];
const GUE_PORT: u16 = 6080;
const NCPUS: u32 = 4;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}
fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}
fn client4() -> IpAddr {
    v4([192, 0, 2, 7])
}
fn client6() -> IpAddr {
    v6("2001:db8::7")
}

fn vip(addr: IpAddr, port: u16, proto: u8) -> Vip {
    Vip { addr, port, proto }
}
fn v_tcp4() -> Vip {
    vip(v4([10, 0, 0, 10]), 80, TCP)
}
fn v_udp4() -> Vip {
    vip(v4([10, 0, 0, 11]), 53, UDP)
}
fn v_tcp6() -> Vip {
    vip(v6("fd00::10"), 443, TCP)
}
fn v_all_ports() -> Vip {
    vip(v4([10, 0, 0, 12]), 0, TCP)
}
fn v_src_only() -> Vip {
    vip(v4([10, 0, 0, 13]), 80, TCP)
}
fn v_quic() -> Vip {
    vip(v4([10, 0, 0, 14]), 443, UDP)
}
fn v_4in6() -> Vip {
    vip(v4([10, 0, 0, 15]), 80, TCP)
}
fn v_6in4() -> Vip {
    vip(v6("fd00::11"), 80, TCP)
}
fn v_empty() -> Vip {
    vip(v4([10, 0, 0, 16]), 80, TCP)
}
fn v_drain() -> Vip {
    vip(v4([10, 0, 0, 17]), 80, TCP)
}
fn v_udp6() -> Vip {
    vip(v6("fd00::12"), 53, UDP)
}
fn backends4() -> Vec<(IpAddr, u32)> {
    (1..=3).map(|i| (v4([10, 1, 0, i]), 1)).collect()
}
fn backends6() -> Vec<(IpAddr, u32)> {
    vec![(v6("fd01::1"), 1), (v6("fd01::2"), 2)]
}
const QUIC_SID: u16 = 0x0102;
fn quic_backend() -> IpAddr {
    v4([10, 1, 0, 9])
}

/// A VIP, its options and its backends with weights.
type VipSetup = (Vip, VipOptions, Vec<(IpAddr, u32)>);

/// The configuration every world gets; returns the balancer state.
fn configure(t: &dyn MapTarget, encap: Encap, max_new_per_sec: u32) -> Balancer {
    let mut b = Balancer::new(GlobalConfig {
        nexthop_mac: NEXTHOP,
        encap,
        max_new_per_sec,
        ..GlobalConfig::default()
    });
    b.write_global(t).unwrap();
    let plain = VipOptions::default();
    let sets: Vec<VipSetup> = vec![
        (v_tcp4(), plain, backends4()),
        (v_udp4(), plain, backends4()),
        (v_tcp6(), plain, backends6()),
        (
            v_all_ports(),
            VipOptions {
                all_ports: true,
                ..plain
            },
            backends4(),
        ),
        (
            v_src_only(),
            VipOptions {
                src_only: true,
                ..plain
            },
            backends4(),
        ),
        (
            v_quic(),
            VipOptions {
                quic: true,
                ..plain
            },
            backends4(),
        ),
        (v_4in6(), plain, backends6()),
        (v_6in4(), plain, backends4()),
        (v_empty(), plain, vec![]),
        (v_drain(), plain, backends4()),
        (v_udp6(), plain, backends6()),
    ];
    for (v, o, bs) in sets {
        b.add_vip(t, v, o).unwrap();
        b.set_backends(t, &v, &bs).unwrap();
    }
    b.set_quic_server(t, QUIC_SID, quic_backend()).unwrap();
    b
}

// --- datapaths ---------------------------------------------------------------

enum Dp {
    Ox {
        obj: oxbpf::Object,
        runner: oxbpf::Runner,
    },
    Kernel {
        obj: KernelObject,
    },
}

impl Dp {
    fn target(&self) -> &dyn MapTarget {
        match self {
            Dp::Ox { obj, .. } => obj,
            Dp::Kernel { obj } => obj,
        }
    }

    fn run(&self, pkt: &[u8]) -> Result<(u32, Vec<u8>), Failed> {
        match self {
            Dp::Ox { runner, .. } => {
                let out = runner.run_xdp_with(pkt, &RunOptions::default())?;
                Ok((out.ret, out.packet))
            }
            Dp::Kernel { obj } => {
                let prog = obj.program("balancer").ok_or("no program balancer")?;
                let mut run = TestRun::with_data(pkt);
                run.extra_out = 128;
                let out = prog.test_run(&mut run)?;
                Ok((out.retval, out.data))
            }
        }
    }

    /// Every CPU's copy of `key` in a per-CPU map, or the value of a plain
    /// map, as raw bytes; `None` if absent.
    fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Failed> {
        match self {
            Dp::Ox { obj, .. } => match obj.map(map)?.lookup(key) {
                Ok(v) => Ok(Some(v)),
                Err(oxbpf_maps::MapError::NotFound) => Ok(None),
                Err(e) => Err(e.into()),
            },
            Dp::Kernel { obj } => Ok(obj.map(map).ok_or("no map")?.lookup(key)?),
        }
    }

    /// Sets `key` on every CPU of a per-CPU map.
    fn update_percpu(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), Failed> {
        let size = match self {
            Dp::Ox { obj, .. } => obj.map(map)?.user_value_size(),
            Dp::Kernel { obj } => obj.map(map).ok_or("no map")?.value_buffer_size(),
        };
        let slot = value.len().div_ceil(8) * 8;
        let mut all = vec![0u8; size];
        for c in all.chunks_mut(slot) {
            c[..value.len()].copy_from_slice(value);
        }
        match self {
            Dp::Ox { obj, .. } => obj.map(map)?.update(key, &all, 0)?,
            Dp::Kernel { obj } => obj.map(map).ok_or("no map")?.update(key, &all, 0)?,
        }
        Ok(())
    }
}

struct World {
    dp: Dp,
    bal: Mutex<Balancer>,
}

struct Worlds {
    ip: World,
    gue: World,
    rate: World,
    /// Held while a case runs: cases check exact counter deltas, so the
    /// cases of one engine run one at a time (engines still in parallel).
    serial: Mutex<()>,
}

fn compile(no_lru: bool) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf/balancer.bpf.c");
    let (name, extra): (_, &[&str]) = if no_lru {
        ("balancer-nolru.o", &["-DLB_NO_LRU"])
    } else {
        ("balancer.o", &[])
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    oxbpf_testkit::bpf::compile_with(&src, &out, extra).unwrap_or_else(|e| panic!("{e}"));
    out
}

fn objects() -> &'static (PathBuf, PathBuf) {
    static O: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    O.get_or_init(|| (compile(false), compile(true)))
}

fn new_dp(engine: Option<EngineKind>, no_lru: bool) -> Result<Dp, Failed> {
    match engine {
        Some(e) => {
            let path = if no_lru { &objects().1 } else { &objects().0 };
            let obj = Loader::new().ncpus(NCPUS).load_file(path)?;
            let runner = obj.program("balancer")?.load(e)?;
            Ok(Dp::Ox { obj, runner })
        }
        None => {
            let bytes = std::fs::read(&objects().0)?;
            let parsed = oxbpf_object::Object::parse(&bytes)?;
            let obj = KernelObject::load_with(&parsed, &LoadOptions::default())?;
            Ok(Dp::Kernel { obj })
        }
    }
}

fn new_world(
    engine: Option<EngineKind>,
    no_lru: bool,
    encap: Encap,
    rate: u32,
) -> Result<World, Failed> {
    let dp = new_dp(engine, no_lru)?;
    let bal = configure(dp.target(), encap, rate);
    Ok(World {
        dp,
        bal: Mutex::new(bal),
    })
}

type WorldCell = OnceLock<Result<Worlds, String>>;

fn worlds(engine: Option<EngineKind>, no_lru: bool) -> Result<&'static Worlds, Failed> {
    static CELLS: [WorldCell; 8] = [const { OnceLock::new() }; 8];
    let i = match engine {
        Some(EngineKind::Interp) => 0,
        Some(EngineKind::InterpFast) => 1,
        Some(EngineKind::Jit) => 2,
        _ => 3,
    } + if no_lru { 4 } else { 0 };
    let r = CELLS[i].get_or_init(|| {
        let make = || -> Result<Worlds, Failed> {
            Ok(Worlds {
                ip: new_world(engine, no_lru, Encap::Ip, 0)?,
                gue: new_world(engine, no_lru, Encap::Gue { port: GUE_PORT }, 0)?,
                rate: new_world(engine, no_lru, Encap::Ip, 1)?,
                serial: Mutex::new(()),
            })
        };
        make().map_err(|e| format!("{e:?}"))
    });
    r.as_ref().map_err(|e| Failed::from(e.clone()))
}

// --- frames ------------------------------------------------------------------

fn octets4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(_) => panic!("not v4"),
    }
}
fn octets6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(_) => panic!("not v6"),
    }
}

#[derive(Clone, Copy)]
enum L4 {
    Syn,
    Ack,
    Rst,
    Udp,
}

/// A client frame: Ethernet (optional VLAN), IP by the addresses' family,
/// then TCP or UDP with `payload`.
fn frame(
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    l4: L4,
    vlan: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC);
    let mut out = Vec::new();
    macro_rules! finish {
        ($ip:expr) => {{
            match l4 {
                L4::Syn => $ip
                    .tcp(sport, dport, 1000, 64240)
                    .syn()
                    .write(&mut out, payload),
                L4::Ack => $ip
                    .tcp(sport, dport, 1001, 64240)
                    .ack(5000)
                    .write(&mut out, payload),
                L4::Rst => $ip
                    .tcp(sport, dport, 1001, 0)
                    .rst()
                    .write(&mut out, payload),
                L4::Udp => $ip.udp(sport, dport).write(&mut out, payload),
            }
            .unwrap()
        }};
    }
    match (vlan, src.is_ipv6()) {
        (None, false) => finish!(eth.ipv4(octets4(src), octets4(dst), 64)),
        (None, true) => finish!(eth.ipv6(octets6(src), octets6(dst), 64)),
        (Some(id), false) => finish!(eth.single_vlan(VlanId::try_new(id).unwrap()).ipv4(
            octets4(src),
            octets4(dst),
            64
        )),
        (Some(id), true) => finish!(eth.single_vlan(VlanId::try_new(id).unwrap()).ipv6(
            octets6(src),
            octets6(dst),
            64
        )),
    }
    out
}

/// The frame the datapath must send for `inner` (an IP packet) to
/// `backend`, with flow hash `h`: Ethernet to the next hop, the outer IP
/// header by the backend's family (source from the hash), GUE's UDP header
/// when `gue`, then `inner` unchanged.
fn encapsulated(inner: &[u8], backend: IpAddr, h: u32, gue: bool) -> Vec<u8> {
    let inner_v6 = inner[0] >> 4 == 6;
    let tos = if inner_v6 {
        (inner[0] << 4) | (inner[1] >> 4)
    } else {
        inner[1]
    };
    let extra = if gue { 8 } else { 0 };
    let next = if gue {
        IpNumber::UDP
    } else if inner_v6 {
        IpNumber(41)
    } else {
        IpNumber(4)
    };
    let mut out = Vec::new();
    let ether_type = if backend.is_ipv6() {
        EtherType::IPV6
    } else {
        EtherType::IPV4
    };
    Ethernet2Header {
        source: LB_MAC,
        destination: NEXTHOP,
        ether_type,
    }
    .write(&mut out)
    .unwrap();
    match backend {
        IpAddr::V4(b) => {
            let src = [172, 16, (h >> 8) as u8, h as u8];
            let mut ip =
                Ipv4Header::new((inner.len() + extra) as u16, 64, next, src, b.octets()).unwrap();
            ip.dont_fragment = false;
            ip.dscp = etherparse::Ipv4Dscp::try_new(tos >> 2).unwrap();
            ip.ecn = etherparse::Ipv4Ecn::try_new(tos & 3).unwrap();
            ip.header_checksum = ip.calc_header_checksum();
            ip.write(&mut out).unwrap();
        }
        IpAddr::V6(b) => {
            let mut src = [0u8; 16];
            src[0] = 0xfc;
            src[12..].copy_from_slice(&h.to_be_bytes());
            Ipv6Header {
                traffic_class: tos,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: (inner.len() + extra) as u16,
                next_header: next,
                hop_limit: 64,
                source: src,
                destination: b.octets(),
            }
            .write(&mut out)
            .unwrap();
        }
    }
    if gue {
        UdpHeader {
            source_port: 0xc000 | (h & 0x3fff) as u16,
            destination_port: GUE_PORT,
            length: (inner.len() + 8) as u16,
            checksum: 0,
        }
        .write(&mut out)
        .unwrap();
    }
    out.extend_from_slice(inner);
    out
}

fn l3(frame: &[u8]) -> &[u8] {
    let et = u16::from_be_bytes([frame[12], frame[13]]);
    if et == 0x8100 {
        &frame[18..]
    } else {
        &frame[14..]
    }
}

fn check(got: (u32, Vec<u8>), verdict: u32, expected: &[u8], what: &str) -> Result<(), Failed> {
    if got.0 != verdict {
        return Err(format!("{what}: verdict {} expected {verdict}", got.0).into());
    }
    if got.1 != expected {
        return Err(format!(
            "{what}: output frame differs\n got      {:02x?}\n expected {:02x?}",
            got.1, expected
        )
        .into());
    }
    Ok(())
}

/// A new flow through the ring: the expected backend is the Rust ring's.
fn expect_ring(
    w: &World,
    v: &Vip,
    src: IpAddr,
    sport: u16,
    l4: L4,
    vlan: Option<u16>,
    gue: bool,
) -> Result<(), Failed> {
    expect_ring_as(w, v, src, sport, l4, vlan, gue, Conn::of(l4))
}

/// [`expect_ring`] with the connection-table outcome given.
#[allow(clippy::too_many_arguments)]
fn expect_ring_as(
    w: &World,
    v: &Vip,
    src: IpAddr,
    sport: u16,
    l4: L4,
    vlan: Option<u16>,
    gue: bool,
    conn: Conn,
) -> Result<(), Failed> {
    let proto = if matches!(l4, L4::Udp) { UDP } else { TCP };
    let f = Flow {
        src,
        dst: v.addr,
        sport,
        dport: v.port,
        proto,
    };
    let (backend, src_only) = {
        let b = w.bal.lock().unwrap();
        let src_only = v == &v_src_only();
        (b.pick(v, &f).ok_or("vip has no backend")?, src_only)
    };
    let pkt = frame(src, sport, v.addr, v.port, l4, vlan, b"hello lb");
    let want = encapsulated(l3(&pkt), backend, flow_hash(&f, src_only), gue);
    counted(w, v, backend, pkt.len(), conn, || {
        check(w.dp.run(&pkt)?, XDP_TX, &want, "new flow")
    })
}

/// What the connection tables do with a forwarded packet, for the per-VIP
/// and per-backend counters (`bpf/balancer.h`).
#[derive(Clone, Copy, Debug)]
enum Conn {
    /// Not in a table, picked from the ring and recorded: a new connection.
    New,
    /// Found in a table.
    Hit,
    /// Picked from the ring but not recorded (RST, ICMP error, rate guard).
    Unrecorded,
    /// Routed by QUIC server id: no table lookup.
    Routed,
}

impl Conn {
    /// The packet's flow kind by its first packet's TCP flags: a SYN or a
    /// UDP datagram of a fresh flow is new, an ACK follows a recorded flow,
    /// a RST is never recorded.
    fn of(l4: L4) -> Conn {
        match l4 {
            L4::Syn | L4::Udp => Conn::New,
            L4::Ack => Conn::Hit,
            L4::Rst => Conn::Unrecorded,
        }
    }
}

/// Entry `idx` of a per-CPU stats map: its `u64` fields summed over CPUs.
fn stat_fields(w: &World, map: &str, idx: u32, n: usize) -> Result<Vec<u64>, Failed> {
    let raw =
        w.dp.lookup(map, &idx.to_le_bytes())?
            .ok_or_else(|| format!("no {map} entry {idx}"))?;
    let mut out = vec![0u64; n];
    for cpu in raw.chunks(n * 8) {
        for (i, o) in out.iter_mut().enumerate() {
            *o += u64::from_le_bytes(cpu[i * 8..i * 8 + 8].try_into().unwrap());
        }
    }
    Ok(out)
}

/// Runs `run` (one packet of `len` bytes to VIP `v`, sent to `backend`)
/// and checks the deltas of the VIP's counters (packets, bytes, new
/// connections, table hits, misses) and the backend's (packets, bytes,
/// new connections), expected from the case's `conn`.
fn counted(
    w: &World,
    v: &Vip,
    backend: IpAddr,
    len: usize,
    conn: Conn,
    run: impl FnOnce() -> Result<(), Failed>,
) -> Result<(), Failed> {
    let (num, id) = {
        let b = w.bal.lock().unwrap();
        let num = b.ring(v).ok_or("no vip")?.0;
        (num, b.known_backend_id(backend).ok_or("unknown backend")?)
    };
    let vip0 = stat_fields(w, "vip_stats", num, 5)?;
    let be0 = stat_fields(w, "backend_stats", id, 3)?;
    run()?;
    let vip1 = stat_fields(w, "vip_stats", num, 5)?;
    let be1 = stat_fields(w, "backend_stats", id, 3)?;
    let len = len as u64;
    let (new, hit, miss) = match conn {
        Conn::New => (1, 0, 1),
        Conn::Hit => (0, 1, 0),
        Conn::Unrecorded => (0, 0, 1),
        Conn::Routed => (0, 0, 0),
    };
    let dv: Vec<u64> = vip1.iter().zip(&vip0).map(|(a, b)| a - b).collect();
    let db: Vec<u64> = be1.iter().zip(&be0).map(|(a, b)| a - b).collect();
    if dv != [1, len, new, hit, miss] {
        return Err(format!(
            "{conn:?}: vip {num} counters moved by {dv:?} (packets, bytes, new, hits, misses), \
             expected {:?}",
            [1, len, new, hit, miss]
        )
        .into());
    }
    if db != [1, len, new] {
        return Err(format!(
            "{conn:?}: backend {backend} counters moved by {db:?} (packets, bytes, new), \
             expected {:?}",
            [1, len, new]
        )
        .into());
    }
    Ok(())
}

fn unchanged(w: &World, pkt: Vec<u8>, verdict: u32) -> Result<(), Failed> {
    check(w.dp.run(&pkt)?, verdict, &pkt, "unchanged")
}

// --- cases -------------------------------------------------------------------

type Case = fn(&Worlds) -> Result<(), Failed>;

fn ip_frame_with(mut pkt: Vec<u8>, patch: impl FnOnce(&mut [u8])) -> Vec<u8> {
    patch(&mut pkt[14..34]);
    // Recompute the IPv4 header checksum of the patched header (20 bytes).
    pkt[24] = 0;
    pkt[25] = 0;
    let mut s = 0u32;
    for i in (14..34).step_by(2) {
        s += u32::from(u16::from_be_bytes([pkt[i], pkt[i + 1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    pkt[24..26].copy_from_slice(&c.to_be_bytes());
    pkt
}

fn quic_payload(long: bool, dcid: [u8; 8]) -> Vec<u8> {
    if long {
        let mut p = vec![0xc0, 0, 0, 0, 1, 8];
        p.extend_from_slice(&dcid);
        p.extend_from_slice(&[0; 20]);
        p
    } else {
        let mut p = vec![0x40];
        p.extend_from_slice(&dcid);
        p.extend_from_slice(&[0; 20]);
        p
    }
}

fn quic_case(
    w: &Worlds,
    long: bool,
    dcid: [u8; 8],
    routed: bool,
    sport: u16,
) -> Result<(), Failed> {
    let v = v_quic();
    let f = Flow {
        src: client4(),
        dst: v.addr,
        sport,
        dport: v.port,
        proto: UDP,
    };
    let backend = if routed {
        quic_backend()
    } else {
        w.ip.bal.lock().unwrap().pick(&v, &f).ok_or("no backend")?
    };
    let pkt = frame(
        client4(),
        sport,
        v.addr,
        v.port,
        L4::Udp,
        None,
        &quic_payload(long, dcid),
    );
    let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
    let conn = if routed { Conn::Routed } else { Conn::New };
    counted(&w.ip, &v, backend, pkt.len(), conn, || {
        check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "quic")
    })
}

/// An ICMP error quoting a VIP->client packet of `f` (the client->VIP flow).
fn quoted(f: &Flow) -> Vec<u8> {
    let b = PacketBuilder::ipv4(octets4(f.dst), octets4(f.src), 64).tcp(f.dport, f.sport, 1, 100);
    let mut q = Vec::new();
    b.write(&mut q, &[]).unwrap();
    q.truncate(28);
    q
}

fn quoted6(f: &Flow) -> Vec<u8> {
    let b = PacketBuilder::ipv6(octets6(f.dst), octets6(f.src), 64).tcp(f.dport, f.sport, 1, 100);
    let mut q = Vec::new();
    b.write(&mut q, &[]).unwrap();
    q.truncate(48);
    q
}

fn flow(v: &Vip, src: IpAddr, sport: u16) -> Flow {
    Flow {
        src,
        dst: v.addr,
        sport,
        dport: v.port,
        proto: v.proto,
    }
}

fn frag_needed(f: &Flow) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
        .ipv4([198, 51, 100, 1], octets4(f.dst), 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 },
        ));
    let mut out = Vec::new();
    b.write(&mut out, &quoted(f)).unwrap();
    out
}

fn backend_id(w: &World, addr: IpAddr) -> u32 {
    let mut b = w.bal.lock().unwrap();
    b.backend_id(w.dp.target(), addr).unwrap()
}

fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("tcp4_syn_new_flow_ipip", |w| {
            expect_ring(&w.ip, &v_tcp4(), client4(), 40001, L4::Syn, None, false)
        }),
        ("tcp4_ack_follows_recorded_flow", |w| {
            expect_ring(&w.ip, &v_tcp4(), client4(), 40002, L4::Syn, None, false)?;
            expect_ring(&w.ip, &v_tcp4(), client4(), 40002, L4::Ack, None, false)
        }),
        ("tcp4_many_flows_follow_the_ring", |w| {
            let mut seen = std::collections::BTreeSet::new();
            for p in 0..24u16 {
                let f = flow(&v_tcp4(), client4(), 41000 + p);
                seen.insert(w.ip.bal.lock().unwrap().pick(&v_tcp4(), &f));
                expect_ring(&w.ip, &v_tcp4(), client4(), 41000 + p, L4::Syn, None, false)?;
            }
            // 24 flows over 3 equal backends reach more than one of them.
            if seen.len() < 2 {
                return Err("all flows on one backend".into());
            }
            Ok(())
        }),
        ("tcp4_syn_is_recorded_in_both_conn_tables", |w| {
            expect_ring(&w.ip, &v_tcp4(), client4(), 40003, L4::Syn, None, false)?;
            let f = flow(&v_tcp4(), client4(), 40003);
            let picked = w.ip.bal.lock().unwrap().pick(&v_tcp4(), &f).unwrap();
            let want = backend_id(&w.ip, picked);
            let shared =
                w.ip.dp
                    .lookup("conn_shared", &abi::flow_key(&f))?
                    .ok_or("not in conn_shared")?;
            if shared[..4] != want.to_le_bytes() {
                return Err(
                    format!("conn_shared holds {shared:?}, expected backend {want}").into(),
                );
            }
            w.ip.dp
                .lookup("conn_local", &abi::flow_key(&f))?
                .ok_or("not in conn_local")?;
            Ok(())
        }),
        ("tcp4_rst_is_forwarded_not_recorded", |w| {
            expect_ring(&w.ip, &v_tcp4(), client4(), 40004, L4::Rst, None, false)?;
            let f = flow(&v_tcp4(), client4(), 40004);
            if w.ip.dp.lookup("conn_shared", &abi::flow_key(&f))?.is_some() {
                return Err("RST flow was recorded".into());
            }
            Ok(())
        }),
        ("tcp4_tos_is_copied_to_outer_header", |w| {
            let v = v_tcp4();
            let f = flow(&v, client4(), 40005);
            let backend = w.ip.bal.lock().unwrap().pick(&v, &f).unwrap();
            let pkt = ip_frame_with(
                frame(client4(), 40005, v.addr, 80, L4::Syn, None, b"x"),
                |ip| ip[1] = 0xb8,
            );
            let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
            check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "tos")
        }),
        ("udp4_new_flow_ipip", |w| {
            expect_ring(&w.ip, &v_udp4(), client4(), 5353, L4::Udp, None, false)
        }),
        ("udp4_vlan_tagged_encap_drops_the_tag", |w| {
            expect_ring(&w.ip, &v_udp4(), client4(), 5354, L4::Udp, Some(42), false)
        }),
        ("tcp4_vlan_tagged_encap", |w| {
            expect_ring(&w.ip, &v_tcp4(), client4(), 40006, L4::Syn, Some(7), false)
        }),
        ("tcp6_new_flow_ip6ip6", |w| {
            expect_ring(&w.ip, &v_tcp6(), client6(), 40007, L4::Syn, None, false)
        }),
        ("tcp6_vlan_tagged_ip6ip6", |w| {
            expect_ring(&w.ip, &v_tcp6(), client6(), 40008, L4::Syn, Some(9), false)
        }),
        ("udp6_new_flow_ip6ip6", |w| {
            expect_ring(&w.ip, &v_udp6(), client6(), 5355, L4::Udp, None, false)
        }),
        ("tcp4_to_ipv6_backend_4in6", |w| {
            expect_ring(&w.ip, &v_4in6(), client4(), 40009, L4::Syn, None, false)
        }),
        ("tcp6_to_ipv4_backend_6in4", |w| {
            expect_ring(&w.ip, &v_6in4(), client6(), 40010, L4::Syn, None, false)
        }),
        ("all_ports_vip_port_8080", |w| {
            let v = vip(v_all_ports().addr, 8080, TCP);
            expect_all_ports(w, v, 40011)
        }),
        ("all_ports_vip_port_22", |w| {
            expect_all_ports(w, vip(v_all_ports().addr, 22, TCP), 40012)
        }),
        ("src_only_vip_same_client_same_backend", |w| {
            for p in [40013u16, 50013, 60013] {
                expect_ring(&w.ip, &v_src_only(), client4(), p, L4::Syn, None, false)?;
            }
            Ok(())
        }),
        ("quic_long_header_server_id_routes", |w| {
            quic_case(w, true, [0x40, 0x01, 0x02, 9, 9, 9, 9, 9], true, 7001)
        }),
        ("quic_short_header_server_id_routes", |w| {
            quic_case(w, false, [0x41, 0x01, 0x02, 1, 2, 3, 4, 5], true, 7002)
        }),
        ("quic_unknown_server_id_falls_back_to_ring", |w| {
            quic_case(w, false, [0x40, 0x03, 0x04, 1, 2, 3, 4, 5], false, 7003)
        }),
        ("quic_cid_without_version_bits_falls_back_to_ring", |w| {
            quic_case(w, true, [0x80, 0x01, 0x02, 1, 2, 3, 4, 5], false, 7004)
        }),
        ("quic_tiny_payload_falls_back_to_ring", |w| {
            let v = v_quic();
            let f = flow(&v, client4(), 7005);
            let backend = w.ip.bal.lock().unwrap().pick(&v, &f).unwrap();
            let pkt = frame(client4(), 7005, v.addr, v.port, L4::Udp, None, &[0x40, 1]);
            let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
            check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "tiny quic")
        }),
        ("vip_with_empty_ring_drops", |w| {
            unchanged(
                &w.ip,
                frame(client4(), 40014, v_empty().addr, 80, L4::Syn, None, b"x"),
                XDP_DROP,
            )
        }),
        (
            "established_flow_stays_when_its_backend_leaves_the_ring",
            |w| {
                let v = v_drain();
                let f = flow(&v, client4(), 40015);
                let first = w.ip.bal.lock().unwrap().pick(&v, &f).unwrap();
                expect_ring(&w.ip, &v, client4(), 40015, L4::Syn, None, false)?;
                // Drain the flow's backend: weight 0 takes it out of the ring.
                let bs: Vec<_> = backends4()
                    .into_iter()
                    .map(|(a, wt)| (a, if a == first { 0 } else { wt }))
                    .collect();
                w.ip.bal
                    .lock()
                    .unwrap()
                    .set_backends(w.ip.dp.target(), &v, &bs)?;
                let pkt = frame(client4(), 40015, v.addr, 80, L4::Ack, None, b"more");
                let want = encapsulated(l3(&pkt), first, flow_hash(&f, false), false);
                counted(&w.ip, &v, first, pkt.len(), Conn::Hit, || {
                    check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "established flow")
                })?;
                // A new flow never lands on the drained backend.
                for p in 0..16u16 {
                    let nf = flow(&v, client4(), 45000 + p);
                    let b = w.ip.bal.lock().unwrap().pick(&v, &nf).unwrap();
                    if b == first {
                        return Err("drained backend still in the ring".into());
                    }
                    expect_ring(&w.ip, &v, client4(), 45000 + p, L4::Syn, None, false)?;
                }
                Ok(())
            },
        ),
        ("conn_local_entry_wins_over_the_ring", |w| {
            conn_entry_case(w, "conn_local", 40016)
        }),
        ("conn_shared_entry_serves_a_flow_from_another_cpu", |w| {
            conn_entry_case(w, "conn_shared", 40017)
        }),
        ("icmp4_echo_to_vip_is_answered", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv4(octets4(client4()), octets4(v_tcp4().addr), 17)
                .icmpv4_echo_request(0x1234, 7);
            let mut pkt = Vec::new();
            b.write(&mut pkt, b"ping payload").unwrap();
            let r = PacketBuilder::ethernet2(LB_MAC, CLIENT_MAC)
                .ipv4(octets4(v_tcp4().addr), octets4(client4()), 64)
                .icmpv4_echo_reply(0x1234, 7);
            let mut want = Vec::new();
            r.write(&mut want, b"ping payload").unwrap();
            check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "echo reply")
        }),
        ("icmp4_echo_vlan_reply_keeps_the_tag", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .single_vlan(VlanId::try_new(5).unwrap())
                .ipv4(octets4(client4()), octets4(v_udp4().addr), 30)
                .icmpv4_echo_request(1, 2);
            let mut pkt = Vec::new();
            b.write(&mut pkt, b"abcd").unwrap();
            let r = PacketBuilder::ethernet2(LB_MAC, CLIENT_MAC)
                .single_vlan(VlanId::try_new(5).unwrap())
                .ipv4(octets4(v_udp4().addr), octets4(client4()), 64)
                .icmpv4_echo_reply(1, 2);
            let mut want = Vec::new();
            r.write(&mut want, b"abcd").unwrap();
            check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "vlan echo reply")
        }),
        ("icmp6_echo_to_vip_is_answered", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv6(octets6(client6()), octets6(v_tcp6().addr), 10)
                .icmpv6_echo_request(0x77, 3);
            let mut pkt = Vec::new();
            b.write(&mut pkt, b"ping6").unwrap();
            let r = PacketBuilder::ethernet2(LB_MAC, CLIENT_MAC)
                .ipv6(octets6(v_tcp6().addr), octets6(client6()), 64)
                .icmpv6_echo_reply(0x77, 3);
            let mut want = Vec::new();
            r.write(&mut want, b"ping6").unwrap();
            check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "echo6 reply")
        }),
        ("icmp4_echo_to_other_address_passes", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv4(octets4(client4()), [10, 9, 9, 9], 64)
                .icmpv4_echo_request(1, 1);
            let mut pkt = Vec::new();
            b.write(&mut pkt, b"x").unwrap();
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("icmp6_echo_to_other_address_passes", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv6(octets6(client6()), octets6(v6("fd00::99")), 64)
                .icmpv6_echo_request(1, 1);
            let mut pkt = Vec::new();
            b.write(&mut pkt, b"x").unwrap();
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("icmp4_port_unreachable_to_vip_passes", |w| {
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv4(octets4(client4()), octets4(v_tcp4().addr), 64)
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    DestUnreachableHeader::Port,
                ));
            let mut pkt = Vec::new();
            b.write(&mut pkt, &quoted(&flow(&v_tcp4(), client4(), 1)))
                .unwrap();
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("icmp4_frag_needed_goes_to_the_flows_ring_backend", |w| {
            let f = flow(&v_tcp4(), client4(), 40018);
            let backend = w.ip.bal.lock().unwrap().pick(&v_tcp4(), &f).unwrap();
            let pkt = frag_needed(&f);
            let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
            counted(
                &w.ip,
                &v_tcp4(),
                backend,
                pkt.len(),
                Conn::Unrecorded,
                || check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "frag needed"),
            )?;
            if w.ip.dp.lookup("conn_shared", &abi::flow_key(&f))?.is_some() {
                return Err("an ICMP error was recorded as a flow".into());
            }
            Ok(())
        }),
        ("icmp4_frag_needed_follows_the_conn_table", |w| {
            let f = flow(&v_tcp4(), client4(), 40019);
            let other = other_backend(w, &f)?;
            let id = backend_id(&w.ip, other);
            w.ip.dp
                .target()
                .update("conn_shared", &abi::flow_key(&f), &abi::conn(id))?;
            let pkt = frag_needed(&f);
            let want = encapsulated(l3(&pkt), other, flow_hash(&f, false), false);
            counted(&w.ip, &v_tcp4(), other, pkt.len(), Conn::Hit, || {
                check(
                    w.ip.dp.run(&pkt)?,
                    XDP_TX,
                    &want,
                    "frag needed via conn table",
                )
            })
        }),
        ("icmp6_packet_too_big_goes_to_the_flows_backend", |w| {
            let f = flow(&v_tcp6(), client6(), 40020);
            let backend = w.ip.bal.lock().unwrap().pick(&v_tcp6(), &f).unwrap();
            let b = PacketBuilder::ethernet2(CLIENT_MAC, LB_MAC)
                .ipv6(octets6(v6("2001:db8:ffff::1")), octets6(f.dst), 64)
                .icmpv6(Icmpv6Type::PacketTooBig { mtu: 1280 });
            let mut pkt = Vec::new();
            b.write(&mut pkt, &quoted6(&f)).unwrap();
            let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
            counted(
                &w.ip,
                &v_tcp6(),
                backend,
                pkt.len(),
                Conn::Unrecorded,
                || check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "packet too big"),
            )
        }),
        ("non_vip_tcp4_passes", |w| {
            unchanged(
                &w.ip,
                frame(client4(), 1, v4([10, 0, 0, 99]), 80, L4::Syn, None, b"x"),
                XDP_PASS,
            )
        }),
        ("non_vip_udp6_passes", |w| {
            unchanged(
                &w.ip,
                frame(client6(), 1, v6("fd00::99"), 53, L4::Udp, None, b"x"),
                XDP_PASS,
            )
        }),
        ("vip_address_other_port_passes", |w| {
            unchanged(
                &w.ip,
                frame(client4(), 1, v_tcp4().addr, 81, L4::Syn, None, b"x"),
                XDP_PASS,
            )
        }),
        ("vip_address_other_protocol_passes", |w| {
            unchanged(
                &w.ip,
                frame(client4(), 1, v_tcp4().addr, 80, L4::Udp, None, b"x"),
                XDP_PASS,
            )
        }),
        ("vlan_non_vip_passes", |w| {
            unchanged(
                &w.ip,
                frame(client4(), 1, v4([10, 0, 0, 99]), 80, L4::Syn, Some(3), b"x"),
                XDP_PASS,
            )
        }),
        ("arp_passes", |w| {
            let mut pkt = Vec::new();
            pkt.extend_from_slice(&[0xff; 6]);
            pkt.extend_from_slice(&CLIENT_MAC);
            pkt.extend_from_slice(&[0x08, 0x06]);
            pkt.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            pkt.extend_from_slice(&[0; 20]);
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("gre_to_vip_address_passes", |w| {
            let pkt = ip_frame_with(
                frame(client4(), 1, v_tcp4().addr, 80, L4::Syn, None, b"x"),
                |ip| ip[9] = 47,
            );
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("ipv6_no_next_header_passes", |w| {
            let mut pkt = frame(client6(), 1, v_tcp6().addr, 443, L4::Udp, None, b"");
            pkt[14 + 6] = 59;
            unchanged(&w.ip, pkt, XDP_PASS)
        }),
        ("ipv4_options_are_dropped", |w| {
            // IHL 6 with a 4-byte NOP option block.
            let mut pkt = frame(client4(), 40021, v_tcp4().addr, 80, L4::Syn, None, b"x");
            pkt.splice(34..34, [1u8, 1, 1, 0]);
            let tl = u16::from_be_bytes([pkt[16], pkt[17]]) + 4;
            pkt[16..18].copy_from_slice(&tl.to_be_bytes());
            let pkt = ip_frame_with(pkt, |ip| ip[0] = 0x46);
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("ipv4_first_fragment_is_dropped", |w| {
            let pkt = ip_frame_with(
                frame(client4(), 40022, v_tcp4().addr, 80, L4::Syn, None, b"x"),
                |ip| {
                    ip[6] = 0x20;
                    ip[7] = 0;
                },
            );
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("ipv4_later_fragment_is_dropped", |w| {
            let pkt = ip_frame_with(
                frame(client4(), 40023, v_udp4().addr, 53, L4::Udp, None, b"x"),
                |ip| {
                    ip[6] = 0;
                    ip[7] = 0x10;
                },
            );
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("ipv6_fragment_header_is_dropped", |w| {
            let mut pkt = frame(client6(), 40024, v_udp6().addr, 53, L4::Udp, None, b"x");
            // Insert a fragment header (next header UDP) after the fixed header.
            pkt.splice(54..54, [17u8, 0, 0, 1, 0, 0, 0, 9]);
            pkt[14 + 6] = 44;
            let pl = u16::from_be_bytes([pkt[18], pkt[19]]) + 8;
            pkt[18..20].copy_from_slice(&pl.to_be_bytes());
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("truncated_ipv4_header_is_dropped", |w| {
            let pkt = frame(client4(), 1, v_tcp4().addr, 80, L4::Syn, None, b"")[..30].to_vec();
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("truncated_tcp_header_is_dropped", |w| {
            let pkt = frame(client4(), 1, v_tcp4().addr, 80, L4::Syn, None, b"")[..44].to_vec();
            unchanged(&w.ip, pkt, XDP_DROP)
        }),
        ("gue_tcp4_to_ipv4_backend", |w| {
            expect_ring(&w.gue, &v_tcp4(), client4(), 40025, L4::Syn, None, true)
        }),
        ("gue_udp4_vlan_to_ipv4_backend", |w| {
            expect_ring(&w.gue, &v_udp4(), client4(), 40026, L4::Udp, Some(11), true)
        }),
        ("gue_tcp6_to_ipv6_backend", |w| {
            expect_ring(&w.gue, &v_tcp6(), client6(), 40027, L4::Syn, None, true)
        }),
        ("gue_tcp4_to_ipv6_backend", |w| {
            expect_ring(&w.gue, &v_4in6(), client4(), 40028, L4::Syn, None, true)
        }),
        ("rate_guard_stops_recording_but_still_forwards", |w| {
            pin_to_cpu0();
            // Limit 1 per CPU per second: the first new flow is recorded,
            // the next ones in the same second are forwarded unrecorded.
            for (p, conn) in [
                (40029u16, Conn::New),
                (40030, Conn::Unrecorded),
                (40031, Conn::Unrecorded),
            ] {
                expect_ring_as(&w.rate, &v_tcp4(), client4(), p, L4::Syn, None, false, conn)?;
            }
            let recorded = [40029u16, 40030, 40031]
                .iter()
                .map(|&p| {
                    w.rate.dp.lookup(
                        "conn_shared",
                        &abi::flow_key(&flow(&v_tcp4(), client4(), p)),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?
                .iter()
                .filter(|v| v.is_some())
                .count();
            if recorded != 1 {
                return Err(format!("{recorded} of 3 new flows recorded, limit 1").into());
            }
            Ok(())
        }),
        (
            "counters_count_new_connections_per_vip_and_per_backend",
            |w| {
                // 12 new UDP flows to v_udp6, then a second datagram of each:
                // the VIP gets 12 new connections and 12 hits; each backend
                // the new connections its ring picks give it (the Rust ring).
                let v = v_udp6();
                let ports: Vec<u16> = (5400..5412).collect();
                let mut want_new = std::collections::BTreeMap::new();
                for &p in &ports {
                    let b = w.ip.bal.lock().unwrap().pick(&v, &flow(&v, client6(), p));
                    *want_new.entry(b.ok_or("no backend")?).or_insert(0u64) += 1;
                }
                let num = w.ip.bal.lock().unwrap().ring(&v).ok_or("no vip")?.0;
                let ids: Vec<(IpAddr, u32)> = backends6()
                    .into_iter()
                    .map(|(a, _)| (a, backend_id(&w.ip, a)))
                    .collect();
                let vip0 = stat_fields(&w.ip, "vip_stats", num, 5)?;
                let mut be0 = Vec::new();
                for &(_, id) in &ids {
                    be0.push(stat_fields(&w.ip, "backend_stats", id, 3)?[2]);
                }
                for &p in &ports {
                    expect_ring(&w.ip, &v, client6(), p, L4::Udp, None, false)?;
                }
                for &p in &ports {
                    expect_ring_as(&w.ip, &v, client6(), p, L4::Udp, None, false, Conn::Hit)?;
                }
                let vip1 = stat_fields(&w.ip, "vip_stats", num, 5)?;
                let n = ports.len() as u64;
                if [vip1[2] - vip0[2], vip1[3] - vip0[3], vip1[4] - vip0[4]] != [n, n, n] {
                    return Err(format!(
                        "vip {num}: {vip0:?} -> {vip1:?}, expected +{n} new, hits, misses"
                    )
                    .into());
                }
                for (&(addr, id), before) in ids.iter().zip(be0) {
                    let got = stat_fields(&w.ip, "backend_stats", id, 3)?[2] - before;
                    let want = want_new.get(&addr).copied().unwrap_or(0);
                    if got != want {
                        return Err(format!(
                            "backend {addr}: {got} new connections, expected {want}"
                        )
                        .into());
                    }
                }
                Ok(())
            },
        ),
    ]
}

fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes within
    // it, and sched_setaffinity reads `size_of` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn other_backend(w: &Worlds, f: &Flow) -> Result<IpAddr, Failed> {
    let ring_choice =
        w.ip.bal
            .lock()
            .unwrap()
            .pick(&v_tcp4(), f)
            .ok_or("no backend")?;
    Ok(backends4()
        .into_iter()
        .map(|(a, _)| a)
        .find(|a| *a != ring_choice)
        .unwrap())
}

fn conn_entry_case(w: &Worlds, map: &str, sport: u16) -> Result<(), Failed> {
    let f = flow(&v_tcp4(), client4(), sport);
    let other = other_backend(w, &f)?;
    let id = backend_id(&w.ip, other);
    if map == "conn_local" {
        w.ip.dp
            .update_percpu(map, &abi::flow_key(&f), &abi::conn(id))?;
    } else {
        w.ip.dp
            .target()
            .update(map, &abi::flow_key(&f), &abi::conn(id))?;
    }
    let pkt = frame(client4(), sport, v_tcp4().addr, 80, L4::Ack, None, b"data");
    let want = encapsulated(l3(&pkt), other, flow_hash(&f, false), false);
    counted(&w.ip, &v_tcp4(), other, pkt.len(), Conn::Hit, || {
        check(w.ip.dp.run(&pkt)?, XDP_TX, &want, map)
    })
}

fn expect_all_ports(w: &Worlds, v: Vip, sport: u16) -> Result<(), Failed> {
    // The all-ports VIP's ring is keyed by the configured VIP (port 0);
    // the flow hash uses the packet's real port.
    let f = flow(&v, client4(), sport);
    let backend = {
        let b = w.ip.bal.lock().unwrap();
        let (num, ring) = b.ring(&v_all_ports()).ok_or("no vip")?;
        let _ = num;
        let id = ring[(flow_hash(&f, false) % b.config().ring_size) as usize];
        b.backend_addr(id).ok_or("empty slot")?
    };
    let pkt = frame(client4(), sport, v.addr, v.port, L4::Syn, None, b"all");
    let want = encapsulated(l3(&pkt), backend, flow_hash(&f, false), false);
    counted(&w.ip, &v_all_ports(), backend, pkt.len(), Conn::New, || {
        check(w.ip.dp.run(&pkt)?, XDP_TX, &want, "all ports")
    })
}

fn serially(w: &Worlds, case: Case) -> Result<(), Failed> {
    let _g = w.serial.lock().unwrap_or_else(|e| e.into_inner());
    case(w)
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (name, case) in cases() {
        for (label, engine, no_lru) in [
            ("interp", EngineKind::Interp, false),
            ("interp-fast", EngineKind::InterpFast, false),
            ("jit", EngineKind::Jit, false),
            ("interp-nolru", EngineKind::Interp, true),
            ("interp-fast-nolru", EngineKind::InterpFast, true),
            ("jit-nolru", EngineKind::Jit, true),
        ] {
            trials.push(Trial::test(format!("{name}::{label}"), move || {
                serially(worlds(Some(engine), no_lru)?, case)
            }));
        }
        trials.push(privileged_trial(
            format!("{name}::kernel"),
            &[Requirement::Root, Requirement::Bpf],
            move || serially(worlds(None, false)?, case),
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
