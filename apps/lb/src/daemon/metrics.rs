//! Counters read from the datapath's per-CPU maps (`vip_stats`,
//! `backend_stats`, `counters`; summed over CPUs), as JSON (`/v1/stats`)
//! and as Prometheus text (`/metrics`).
//!
//! The datapath counts traffic per VIP and per backend address (a backend
//! id is shared by every VIP that lists the address), so backend traffic
//! is reported once per backend, labelled by the backend only; what is
//! per (VIP, backend) — weight, health, ring slots — keeps both labels.
//! "New connections" are flows recorded in the connection tables (see
//! `bpf/balancer.h`).

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::abi::counter;
use crate::control::ControlError;
use crate::daemon::config::vip_string;
use crate::daemon::state::Daemon;
use crate::daemon::sum_percpu_u64;

/// Packets, bytes and new connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// New connections (flows recorded in the connection tables).
    pub new_connections: u64,
}

/// Size of the datapath's `struct lb_stats` (`backend_stats` values).
pub const BACKEND_STATS_SIZE: usize = 24;
/// Size of the datapath's `struct lb_vip_stats` (`vip_stats` values).
pub const VIP_STATS_SIZE: usize = 40;

/// Names of the `counters` entries, by index (`enum lb_counter`).
pub const COUNTER_NAMES: [&str; counter::MAX as usize] = [
    "conn_local_hit",
    "conn_shared_hit",
    "conn_miss",
    "conn_recorded",
    "rate_limited",
    "rst_not_recorded",
    "quic_routed",
    "quic_fallback",
    "icmp_echo",
    "icmp_too_big",
    "pass_non_vip",
    "drop_malformed",
    "drop_ip_options",
    "drop_fragment",
    "drop_no_backend",
    "drop_encap",
];

/// A backend's counters within a VIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendStats {
    /// Its address.
    pub addr: IpAddr,
    /// Configured weight.
    pub weight: u32,
    /// Health.
    pub healthy: bool,
    /// Ring slots it owns now.
    pub slots: usize,
}

/// A backend address's traffic, over every VIP it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendTraffic {
    /// Its address.
    pub addr: IpAddr,
    /// Traffic sent to it.
    pub traffic: Traffic,
}

/// A VIP's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipStats {
    /// `10.0.0.1:80/tcp`.
    pub vip: String,
    /// Traffic to it.
    pub traffic: Traffic,
    /// Its forwarded packets whose flow was in a connection table.
    pub conn_hits: u64,
    /// Its forwarded packets whose backend came from the ring.
    pub conn_misses: u64,
    /// Its backends.
    pub backends: Vec<BackendStats>,
}

impl VipStats {
    /// Connection-table hits over lookups (0 with no lookup).
    pub fn hit_ratio(&self) -> f64 {
        ratio(self.conn_hits, self.conn_misses)
    }
}

fn ratio(hits: u64, misses: u64) -> f64 {
    let lookups = hits + misses;
    if lookups == 0 {
        0.0
    } else {
        hits as f64 / lookups as f64
    }
}

/// Everything `/v1/stats` and `/metrics` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Per VIP.
    pub vips: Vec<VipStats>,
    /// Per backend address (sorted), over every VIP it serves.
    pub backends: Vec<BackendTraffic>,
    /// The global counters, by [`COUNTER_NAMES`].
    pub counters: Vec<u64>,
}

/// The fields of entry `idx` of a per-CPU stats map, summed over CPUs.
/// `size` is this build's value size; a map whose own value size differs
/// (a pinned datapath of an older build, whose values had only packets
/// and bytes) is read by its own size, and the fields it lacks are 0.
fn fields(d: &Daemon, map: &str, idx: u32, size: usize) -> Result<Vec<u64>, ControlError> {
    let own = d.datapath().value_size(map)?.map_or(size, |s| s as usize);
    let raw = d.datapath().lookup(map, &idx.to_le_bytes())?;
    let mut v = raw.map(|r| sum_percpu_u64(&r, own)).unwrap_or_default();
    v.resize(size / 8, 0);
    Ok(v)
}

/// Reads the counters.
pub fn collect(d: &Daemon) -> Result<Stats, ControlError> {
    let bal = d.balancer();
    let mut vips = Vec::new();
    let mut addrs = std::collections::BTreeSet::new();
    for vc in &d.config().vips {
        let Some((num, ring)) = bal.ring(&vc.vip) else {
            continue;
        };
        let mut backends = Vec::new();
        for b in &vc.backends {
            let id = bal.known_backend_id(b.addr);
            backends.push(BackendStats {
                addr: b.addr,
                weight: b.weight,
                healthy: d.is_healthy(&vc.vip, b.addr),
                slots: id.map_or(0, |id| ring.iter().filter(|&&s| s == id).count()),
            });
            addrs.insert(b.addr);
        }
        let v = fields(d, "vip_stats", num, VIP_STATS_SIZE)?;
        vips.push(VipStats {
            vip: vip_string(&vc.vip),
            traffic: Traffic {
                packets: v[0],
                bytes: v[1],
                new_connections: v[2],
            },
            conn_hits: v[3],
            conn_misses: v[4],
            backends,
        });
    }
    let mut backends = Vec::new();
    for addr in addrs {
        let traffic = match bal.known_backend_id(addr) {
            Some(id) => {
                let v = fields(d, "backend_stats", id, BACKEND_STATS_SIZE)?;
                Traffic {
                    packets: v[0],
                    bytes: v[1],
                    new_connections: v[2],
                }
            }
            None => Traffic::default(),
        };
        backends.push(BackendTraffic { addr, traffic });
    }
    let mut counters = Vec::new();
    for i in 0..counter::MAX {
        let raw = d.datapath().lookup("counters", &i.to_le_bytes())?;
        counters.push(
            raw.map(|r| sum_percpu_u64(&r, 8))
                .and_then(|v| v.first().copied())
                .unwrap_or(0),
        );
    }
    Ok(Stats {
        vips,
        backends,
        counters,
    })
}

impl Stats {
    fn counter(&self, i: u32) -> u64 {
        self.counters.get(i as usize).copied().unwrap_or(0)
    }

    /// Connection-table hits (this CPU's table or the shared one).
    pub fn conn_hits(&self) -> u64 {
        self.counter(counter::CONN_LOCAL_HIT) + self.counter(counter::CONN_SHARED_HIT)
    }

    /// Connection-table misses (new flows picked from a ring).
    pub fn conn_misses(&self) -> u64 {
        self.counter(counter::CONN_MISS)
    }

    /// New flows recorded in the connection tables.
    pub fn new_connections(&self) -> u64 {
        self.counter(counter::CONN_RECORDED)
    }

    /// Drops by reason.
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        [
            ("malformed", counter::DROP_MALFORMED),
            ("ip_options", counter::DROP_IP_OPTIONS),
            ("fragment", counter::DROP_FRAGMENT),
            ("no_backend", counter::DROP_NO_BACKEND),
            ("encap", counter::DROP_ENCAP),
        ]
        .into_iter()
        .map(|(n, i)| (n, self.counter(i)))
        .collect()
    }

    /// The JSON of `/v1/stats`.
    pub fn to_json(&self) -> Value {
        let vips: Vec<Value> = self
            .vips
            .iter()
            .map(|v| {
                json!({
                    "vip": v.vip,
                    "packets": v.traffic.packets,
                    "bytes": v.traffic.bytes,
                    "new_connections": v.traffic.new_connections,
                    "conn_table_hits": v.conn_hits,
                    "conn_table_misses": v.conn_misses,
                    "conn_table_hit_ratio": v.hit_ratio(),
                    "backends": v.backends.iter().map(|b| json!({
                        "address": b.addr.to_string(),
                        "weight": b.weight,
                        "healthy": b.healthy,
                        "slots": b.slots,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let backends: Vec<Value> = self
            .backends
            .iter()
            .map(|b| {
                json!({
                    "address": b.addr.to_string(),
                    "packets": b.traffic.packets,
                    "bytes": b.traffic.bytes,
                    "new_connections": b.traffic.new_connections,
                })
            })
            .collect();
        let counters: serde_json::Map<String, Value> = COUNTER_NAMES
            .iter()
            .zip(&self.counters)
            .map(|(n, v)| ((*n).to_string(), Value::from(*v)))
            .collect();
        let drops: serde_json::Map<String, Value> = self
            .drops()
            .into_iter()
            .map(|(n, v)| (n.to_string(), Value::from(v)))
            .collect();
        json!({
            "vips": vips,
            "backends": backends,
            "new_connections": self.new_connections(),
            "conn_table_hits": self.conn_hits(),
            "conn_table_misses": self.conn_misses(),
            "conn_table_hit_ratio": ratio(self.conn_hits(), self.conn_misses()),
            "drops": drops,
            "counters": counters,
        })
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut o = String::new();
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP oxbpf_lb_{name} {help}");
            let _ = writeln!(o, "# TYPE oxbpf_lb_{name} {kind}");
        };
        family(
            &mut o,
            "vip_packets_total",
            "counter",
            "Packets to the VIP.",
        );
        for v in &self.vips {
            let _ = writeln!(
                o,
                "oxbpf_lb_vip_packets_total{{vip=\"{}\"}} {}",
                v.vip, v.traffic.packets
            );
        }
        family(&mut o, "vip_bytes_total", "counter", "Bytes to the VIP.");
        for v in &self.vips {
            let _ = writeln!(
                o,
                "oxbpf_lb_vip_bytes_total{{vip=\"{}\"}} {}",
                v.vip, v.traffic.bytes
            );
        }
        let per_vip = |o: &mut String,
                       metric: &str,
                       kind: &str,
                       help: &str,
                       f: &dyn Fn(&VipStats) -> String| {
            family(o, metric, kind, help);
            for v in &self.vips {
                let _ = writeln!(o, "oxbpf_lb_{metric}{{vip=\"{}\"}} {}", v.vip, f(v));
            }
        };
        per_vip(
            &mut o,
            "vip_new_connections_total",
            "counter",
            "New connections to the VIP (flows recorded in the connection tables).",
            &|v| v.traffic.new_connections.to_string(),
        );
        per_vip(
            &mut o,
            "vip_conn_table_hits_total",
            "counter",
            "The VIP's forwarded packets whose flow was in a connection table.",
            &|v| v.conn_hits.to_string(),
        );
        per_vip(
            &mut o,
            "vip_conn_table_misses_total",
            "counter",
            "The VIP's forwarded packets whose backend came from the ring.",
            &|v| v.conn_misses.to_string(),
        );
        per_vip(
            &mut o,
            "vip_conn_table_hit_ratio",
            "gauge",
            "The VIP's connection-table hits over lookups (0 before any).",
            &|v| v.hit_ratio().to_string(),
        );
        let per_addr = |o: &mut String, metric: &str, help: &str, f: &dyn Fn(&Traffic) -> u64| {
            family(o, metric, "counter", help);
            for b in &self.backends {
                let _ = writeln!(
                    o,
                    "oxbpf_lb_{metric}{{backend=\"{}\"}} {}",
                    b.addr,
                    f(&b.traffic)
                );
            }
        };
        per_addr(
            &mut o,
            "backend_packets_total",
            "Packets sent to the backend (over every VIP it serves).",
            &|t| t.packets,
        );
        per_addr(
            &mut o,
            "backend_bytes_total",
            "Bytes sent to the backend (over every VIP it serves).",
            &|t| t.bytes,
        );
        per_addr(
            &mut o,
            "backend_new_connections_total",
            "New connections sent to the backend (over every VIP it serves).",
            &|t| t.new_connections,
        );
        let per_backend = |o: &mut String, metric: &str, f: &dyn Fn(&BackendStats) -> String| {
            for v in &self.vips {
                for b in &v.backends {
                    let _ = writeln!(
                        o,
                        "oxbpf_lb_{metric}{{vip=\"{}\",backend=\"{}\"}} {}",
                        v.vip,
                        b.addr,
                        f(b)
                    );
                }
            }
        };
        family(
            &mut o,
            "backend_healthy",
            "gauge",
            "1 if the backend passes its health check.",
        );
        per_backend(&mut o, "backend_healthy", &|b| {
            u8::from(b.healthy).to_string()
        });
        family(
            &mut o,
            "backend_weight",
            "gauge",
            "The backend's configured weight (0: drained).",
        );
        per_backend(&mut o, "backend_weight", &|b| b.weight.to_string());
        family(
            &mut o,
            "backend_ring_slots",
            "gauge",
            "Ring slots the backend owns.",
        );
        per_backend(&mut o, "backend_ring_slots", &|b| b.slots.to_string());
        for (name, help, value) in [
            (
                "new_connections_total",
                "New flows recorded in the connection tables.",
                self.new_connections(),
            ),
            (
                "conn_table_hits_total",
                "Packets whose flow was in a connection table.",
                self.conn_hits(),
            ),
            (
                "conn_table_misses_total",
                "Packets of flows not in a connection table (picked from a ring).",
                self.conn_misses(),
            ),
        ] {
            family(&mut o, name, "counter", help);
            let _ = writeln!(o, "oxbpf_lb_{name} {value}");
        }
        family(
            &mut o,
            "drops_total",
            "counter",
            "Packets dropped, by reason.",
        );
        for (reason, n) in self.drops() {
            let _ = writeln!(o, "oxbpf_lb_drops_total{{reason=\"{reason}\"}} {n}");
        }
        family(
            &mut o,
            "datapath_events_total",
            "counter",
            "Every datapath counter, by name.",
        );
        for (n, v) in COUNTER_NAMES.iter().zip(&self.counters) {
            let _ = writeln!(o, "oxbpf_lb_datapath_events_total{{event=\"{n}\"}} {v}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::MapTarget;
    use crate::daemon::config::LbConfig;
    use crate::daemon::state::DaemonInfo;
    use crate::daemon::state::tests::{CFG, MemDp, mem};
    use std::sync::Arc;

    /// A per-CPU value of these `u64` fields on two CPUs, each half.
    fn stats_value(fields: &[u64]) -> Vec<u8> {
        let mut v = Vec::new();
        for _ in 0..2 {
            for f in fields {
                v.extend_from_slice(&(f / 2).to_le_bytes());
            }
        }
        v
    }

    /// A daemon on `dp` with [`CFG`]; the ring number of its VIP and the
    /// id of `backend`.
    fn started(dp: &Arc<MemDp>, backend: &str) -> (Daemon, u32, u32) {
        let d = Daemon::start(
            dp.clone(),
            LbConfig::parse(CFG).unwrap(),
            false,
            DaemonInfo::default(),
        )
        .unwrap();
        let vip = crate::daemon::config::parse_vip("10.200.0.1:80/tcp").unwrap();
        let num = d.balancer().ring(&vip).unwrap().0;
        let id = d
            .balancer()
            .known_backend_id(backend.parse().unwrap())
            .unwrap();
        (d, num, id)
    }

    #[test]
    fn counters_become_prometheus_text_and_json() {
        let dp = mem();
        let (d, num, id) = started(&dp, "10.201.0.3");
        // packets, bytes, new connections, hits, misses.
        dp.update(
            "vip_stats",
            &num.to_le_bytes(),
            &stats_value(&[10, 1000, 4, 6, 4]),
        )
        .unwrap();
        dp.update(
            "backend_stats",
            &id.to_le_bytes(),
            &stats_value(&[4, 400, 2]),
        )
        .unwrap();
        for (i, n) in [
            (counter::CONN_LOCAL_HIT, 6u64),
            (counter::CONN_SHARED_HIT, 1),
            (counter::CONN_MISS, 3),
            (counter::CONN_RECORDED, 2),
            (counter::DROP_FRAGMENT, 5),
        ] {
            dp.update("counters", &i.to_le_bytes(), &n.to_le_bytes())
                .unwrap();
        }
        let s = collect(&d).unwrap();
        let text = s.to_prometheus();
        for line in [
            "oxbpf_lb_vip_packets_total{vip=\"10.200.0.1:80/tcp\"} 10",
            "oxbpf_lb_vip_bytes_total{vip=\"10.200.0.1:80/tcp\"} 1000",
            "oxbpf_lb_vip_new_connections_total{vip=\"10.200.0.1:80/tcp\"} 4",
            "oxbpf_lb_vip_conn_table_hits_total{vip=\"10.200.0.1:80/tcp\"} 6",
            "oxbpf_lb_vip_conn_table_misses_total{vip=\"10.200.0.1:80/tcp\"} 4",
            "oxbpf_lb_vip_conn_table_hit_ratio{vip=\"10.200.0.1:80/tcp\"} 0.6",
            "oxbpf_lb_backend_packets_total{backend=\"10.201.0.3\"} 4",
            "oxbpf_lb_backend_bytes_total{backend=\"10.201.0.3\"} 400",
            "oxbpf_lb_backend_new_connections_total{backend=\"10.201.0.3\"} 2",
            "oxbpf_lb_backend_packets_total{backend=\"10.201.0.2\"} 0",
            "oxbpf_lb_backend_healthy{vip=\"10.200.0.1:80/tcp\",backend=\"10.201.0.2\"} 1",
            "oxbpf_lb_new_connections_total 2",
            "oxbpf_lb_conn_table_hits_total 7",
            "oxbpf_lb_conn_table_misses_total 3",
            "oxbpf_lb_drops_total{reason=\"fragment\"} 5",
            "oxbpf_lb_drops_total{reason=\"no_backend\"} 0",
            "# TYPE oxbpf_lb_vip_packets_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let j = s.to_json();
        assert_eq!(j["vips"][0]["packets"], 10);
        assert_eq!(j["vips"][0]["new_connections"], 4);
        assert_eq!(j["vips"][0]["conn_table_hit_ratio"], 0.6);
        assert_eq!(j["backends"][1]["address"], "10.201.0.3");
        assert_eq!(j["backends"][1]["new_connections"], 2);
        // One series per backend address, not one per (vip, backend).
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("oxbpf_lb_backend_packets_total{"))
                .count(),
            3
        );
        assert_eq!(j["conn_table_hits"], 7);
        assert_eq!(j["drops"]["fragment"], 5);
        assert_eq!(j["conn_table_hit_ratio"], 0.7);
    }

    #[test]
    fn a_pinned_datapath_with_the_old_two_field_values_is_read_by_its_size() {
        let dp = Arc::new(MemDp {
            ring_slots: 16 * 251,
            value_sizes: [("vip_stats", 16), ("backend_stats", 16)]
                .into_iter()
                .map(|(m, n)| (m.to_string(), n))
                .collect(),
            ..MemDp::default()
        });
        let (d, num, id) = started(&dp, "10.201.0.2");
        // Two CPUs of {packets, bytes}.
        dp.update("vip_stats", &num.to_le_bytes(), &stats_value(&[10, 1000]))
            .unwrap();
        dp.update("backend_stats", &id.to_le_bytes(), &stats_value(&[6, 600]))
            .unwrap();
        let s = collect(&d).unwrap();
        let v = &s.vips[0];
        assert_eq!((v.traffic.packets, v.traffic.bytes), (10, 1000));
        assert_eq!((v.traffic.new_connections, v.conn_hits), (0, 0));
        let b = &s.backends[0];
        assert_eq!(b.addr, "10.201.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            b.traffic,
            Traffic {
                packets: 6,
                bytes: 600,
                new_connections: 0
            }
        );
    }
}
