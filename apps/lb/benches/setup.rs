//! The load-balancer benchmark's object, configuration and inputs, shared
//! by `benches/packets.rs` and `examples/lb_count.rs` (included with
//! `#[path]`), so the callgrind counts and the criterion times measure the
//! same packets.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use etherparse::PacketBuilder;
use oxbpf_lb::{Balancer, GlobalConfig, MapTarget, Vip, VipOptions};

/// Compiles the datapath into the temporary directory as `name`.
pub fn compile(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf/balancer.bpf.c");
    let out = std::env::temp_dir().join(name);
    oxbpf_testkit::bpf::compile(&src, &out).unwrap_or_else(|e| panic!("{e}"));
    out
}

pub fn tcp_vip() -> Vip {
    Vip {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)),
        port: 80,
        proto: 6,
    }
}
pub fn udp_vip() -> Vip {
    Vip {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)),
        port: 53,
        proto: 17,
    }
}

pub fn configure(t: &dyn MapTarget) {
    let mut b = Balancer::new(GlobalConfig {
        nexthop_mac: [2, 0, 0, 0, 0, 0xfe],
        ..GlobalConfig::default()
    });
    b.write_global(t).unwrap();
    let bs: Vec<_> = (1..=10)
        .map(|i| (IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)), 1))
        .collect();
    for v in [tcp_vip(), udp_vip()] {
        b.add_vip(t, v, VipOptions::default()).unwrap();
        b.set_backends(t, &v, &bs).unwrap();
    }
}

pub fn frame(dst: [u8; 4], sport: u16, dport: u16, udp: bool) -> Vec<u8> {
    frame_from([192, 0, 2, 7], dst, sport, dport, udp)
}

pub fn frame_from(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, udp: bool) -> Vec<u8> {
    let ip = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64);
    let mut out = Vec::new();
    if udp {
        ip.udp(sport, dport).write(&mut out, &[0; 64]).unwrap();
    } else {
        ip.tcp(sport, dport, 1, 64240)
            .syn()
            .write(&mut out, &[0; 64])
            .unwrap();
    }
    out
}

/// The input of run `i` of a scenario.
pub fn input(scenario: &str, i: u64) -> Vec<u8> {
    match scenario {
        "new_tcp_flow" => frame([10, 0, 0, 10], 1024 + (i % 60000) as u16, 80, false),
        // Never the same flow twice (client address and port), from other
        // clients than the next scenario's.
        "new_tcp_flow_unique" => {
            let c = i / 60000;
            let src = [198, 19, (c >> 8) as u8, c as u8];
            frame_from(src, [10, 0, 0, 10], 1024 + (i % 60000) as u16, 80, false)
        }
        // Never the same flow twice (client address and port): once the
        // 65,536-entry connection tables are full every insert evicts.
        "new_tcp_flow_table_full" => {
            let c = i / 60000;
            let src = [198, 18, (c >> 8) as u8, c as u8];
            frame_from(src, [10, 0, 0, 10], 1024 + (i % 60000) as u16, 80, false)
        }
        "established_tcp" => frame([10, 0, 0, 10], 999, 80, false),
        "udp" => frame([10, 0, 0, 11], 999, 53, true),
        _ => frame([10, 0, 0, 99], 999, 80, false),
    }
}
