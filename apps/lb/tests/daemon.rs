//! The daemon's API driving the real datapath on oxbpf's engines, in
//! process: VIPs and backends are configured through API requests, TCP
//! SYNs run through the compiled `balancer.bpf.c`, and the backend each
//! flow is encapsulated to is checked against the Maglev ring the control
//! plane computed in Rust (the flow hash is implemented twice, in C and in
//! `oxbpf_lb::flow`). Draining keeps established flows on their backend
//! and sends new ones elsewhere; `/metrics` counts what ran.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use etherparse::{NetSlice, PacketBuilder, SlicedPacket};
use oxbpf::{EngineKind, Loader, Runner, XdpAction};
use oxbpf_lb::daemon::api::{Request, Shared, handle};
use oxbpf_lb::daemon::config::{LbConfig, parse_vip};
use oxbpf_lb::daemon::metrics;
use oxbpf_lb::daemon::state::{Daemon, DaemonInfo};
use oxbpf_lb::daemon::{Datapath, build_datapath};
use oxbpf_lb::flow::Flow;
use serde_json::Value;

const RING: u32 = 257;
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn setup(engine: EngineKind) -> (Shared, Runner) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lb-daemon-cache");
    let path = build_datapath(&cache, RING).expect("clang builds the datapath");
    let obj = Loader::new().ncpus(2).load_file(&path).expect("load");
    let runner = obj.program("balancer").unwrap().load(engine).unwrap();
    // The metrics' layouts are the object's (`struct lb_vip_stats`,
    // `struct lb_stats`: 5 and 3 u64 fields).
    for (map, size) in [
        ("vip_stats", metrics::VIP_STATS_SIZE),
        ("backend_stats", metrics::BACKEND_STATS_SIZE),
    ] {
        assert_eq!(obj.map(map).unwrap().spec().value_size as usize, size);
        assert_eq!(size, if map == "vip_stats" { 5 * 8 } else { 3 * 8 });
    }
    let dp: Arc<dyn Datapath> = Arc::new(obj);
    let cfg = LbConfig::parse(&format!(
        "nexthop_mac: \"02:00:00:00:00:01\"\nring_size: {RING}\n"
    ))
    .unwrap();
    let d = Daemon::start(dp, cfg, false, DaemonInfo::default()).unwrap();
    (Shared::new(d, None), runner)
}

fn call(s: &Shared, method: &str, path: &str, body: &str) -> (u16, Value) {
    let r = handle(
        s,
        &Request {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
        },
    );
    let v = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()));
    (r.status, v)
}

fn syn(sport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x10], [2, 0, 0, 0, 0, 2])
        .ipv4(CLIENT.octets(), [10, 200, 0, 1], 64)
        .tcp(sport, 80, 1, 65535)
        .syn();
    let mut out = Vec::new();
    b.write(&mut out, b"").unwrap();
    out
}

/// Runs a SYN from `sport`; the outer IPv4 destination it was sent to.
fn backend_of(r: &Runner, sport: u16) -> Ipv4Addr {
    let out = r.run_xdp(&syn(sport)).unwrap();
    assert_eq!(out.action(), Some(XdpAction::Tx), "sport {sport}");
    let p = SlicedPacket::from_ethernet(&out.packet).unwrap();
    match p.net {
        Some(NetSlice::Ipv4(ip)) => ip.header().destination_addr(),
        other => panic!("not IPv4 outside: {other:?}"),
    }
}

/// The backend the ring the control plane holds gives a new flow.
fn expected(s: &Shared, sport: u16) -> IpAddr {
    let vip = parse_vip("10.200.0.1:80/tcp").unwrap();
    let f = Flow {
        src: IpAddr::V4(CLIENT),
        dst: vip.addr,
        sport,
        dport: 80,
        proto: 6,
    };
    s.lock().balancer().pick(&vip, &f).unwrap()
}

fn run(engine: EngineKind) {
    let (s, r) = setup(engine);
    let (st, v) = call(
        &s,
        "POST",
        "/v1/vips",
        r#"{"address":"10.200.0.1","port":80,"proto":"tcp"}"#,
    );
    assert_eq!(st, 201, "{v}");
    for b in ["10.201.0.2", "10.201.0.3", "10.201.0.4"] {
        let (st, v) = call(
            &s,
            "POST",
            "/v1/vips/10.200.0.1:80/tcp/backends",
            &format!(r#"{{"address":"{b}"}}"#),
        );
        assert_eq!(st, 201, "{v}");
    }
    // Every flow goes where the ring says; all three backends get some.
    // New connections per backend, by the ring the control plane holds.
    let mut new_by_ring = std::collections::BTreeMap::<IpAddr, u64>::new();
    let mut first = Vec::new();
    for sport in 1000..1060 {
        let want = expected(&s, sport);
        *new_by_ring.entry(want).or_default() += 1;
        let got = backend_of(&r, sport);
        assert_eq!(IpAddr::V4(got), want, "sport {sport}");
        first.push((sport, got));
    }
    let used: std::collections::BTreeSet<_> = first.iter().map(|f| f.1).collect();
    assert_eq!(used.len(), 3);

    // Drain 10.201.0.3: its established flows stay, new flows avoid it.
    let drained = Ipv4Addr::new(10, 201, 0, 3);
    let (st, v) = call(
        &s,
        "POST",
        "/v1/vips/10.200.0.1:80/tcp/backends/10.201.0.3/drain",
        "",
    );
    assert_eq!(st, 200, "{v}");
    assert!(v["slots_written"].as_u64().unwrap() > 0);
    for &(sport, was) in &first {
        assert_eq!(backend_of(&r, sport), was, "established flow {sport} moved");
    }
    let mut moved_new = 0;
    for sport in 2000..2100 {
        let want = expected(&s, sport);
        *new_by_ring.entry(want).or_default() += 1;
        let got = backend_of(&r, sport);
        assert_ne!(got, drained, "new flow {sport} went to the drained backend");
        assert_eq!(IpAddr::V4(got), want);
        moved_new += 1;
    }
    assert_eq!(moved_new, 100);

    // Removing a backend: new flows never pick it.
    let (st, _) = call(
        &s,
        "DELETE",
        "/v1/vips/10.200.0.1:80/tcp/backends/10.201.0.4",
        "",
    );
    assert_eq!(st, 200);
    for sport in 3000..3050 {
        *new_by_ring
            .entry(IpAddr::V4(Ipv4Addr::new(10, 201, 0, 2)))
            .or_default() += 1;
        let got = backend_of(&r, sport);
        assert_eq!(got, Ipv4Addr::new(10, 201, 0, 2), "sport {sport}");
    }

    // The counters saw every packet: 60 + 60 + 100 + 50.
    let (st, m) = call(&s, "GET", "/metrics", "");
    assert_eq!(st, 200);
    let text = m.as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l == "oxbpf_lb_vip_packets_total{vip=\"10.200.0.1:80/tcp\"} 270"),
        "{text}"
    );
    // 210 new flows (60 + 100 + 50), each a new connection on the VIP and
    // on the backend the ring gave it; the 60 repeated SYNs are hits.
    let vip_line = "oxbpf_lb_vip_new_connections_total{vip=\"10.200.0.1:80/tcp\"} 210";
    assert!(text.lines().any(|l| l == vip_line), "{text}");
    let (_, stats) = call(&s, "GET", "/v1/stats", "");
    assert_eq!(stats["conn_table_hits"], 60, "{stats}");
    assert_eq!(stats["new_connections"], 210, "{stats}");
    let v = &stats["vips"][0];
    assert_eq!(v["new_connections"], 210, "{stats}");
    assert_eq!(v["conn_table_hits"], 60, "{stats}");
    assert_eq!(v["conn_table_misses"], 210, "{stats}");
    assert_eq!(v["conn_table_hit_ratio"], 60.0 / 270.0, "{stats}");
    // Backends still configured: 10.201.0.2 and the drained 10.201.0.3.
    let listed = stats["backends"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{stats}");
    for b in listed {
        let addr: IpAddr = b["address"].as_str().unwrap().parse().unwrap();
        let want = new_by_ring.get(&addr).copied().unwrap_or(0);
        assert!(want > 0, "{addr} got no flow by the ring");
        assert_eq!(b["new_connections"], want, "{addr}: {stats}");
        let line = format!("oxbpf_lb_backend_new_connections_total{{backend=\"{addr}\"}} {want}");
        assert!(text.lines().any(|l| l == line), "missing {line}: {text}");
    }
}

#[test]
fn api_drives_the_datapath_on_the_interpreter() {
    run(EngineKind::Interp);
}

#[test]
fn api_drives_the_datapath_on_the_jit() {
    run(EngineKind::Jit);
}
