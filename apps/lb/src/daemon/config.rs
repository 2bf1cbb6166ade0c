//! The daemon's configuration file (YAML) and the API's request bodies.
//!
//! Both are parsed into a generic YAML value first (JSON is YAML, so API
//! bodies go through the same code) and then checked field by field, so a
//! refusal names the field path: `vips[0].backends[1].weight: expected an
//! integer`. Unknown fields are refused the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use serde_norway::{Mapping, Value};
use thiserror::Error;

use crate::control::{Encap, GlobalConfig, Vip, VipOptions};
use crate::maglev;

/// Why a configuration (or a request body) was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {msg}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        msg: String,
    },
    /// The text is not YAML (or JSON).
    #[error("not valid YAML: {msg}")]
    Syntax {
        /// The parser's message (with the line and column).
        msg: String,
    },
    /// A field is missing, unknown or has a bad value.
    #[error("{path}: {msg}")]
    Field {
        /// The field path, `vips[0].backends[1].weight`.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

fn field(path: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        path: if path.is_empty() {
            "(top level)".into()
        } else {
            path.into()
        },
        msg: msg.into(),
    }
}

/// Timing and thresholds of health checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthParams {
    /// Time between two checks.
    pub interval: Duration,
    /// How long one check may take.
    pub timeout: Duration,
    /// Consecutive successes that bring an unhealthy backend back.
    pub rise: u32,
    /// Consecutive failures that take a healthy backend out.
    pub fall: u32,
}

impl Default for HealthParams {
    fn default() -> Self {
        HealthParams {
            interval: Duration::from_millis(1000),
            timeout: Duration::from_millis(500),
            rise: 2,
            fall: 3,
        }
    }
}

/// What a health check does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Connect over TCP to the backend's address on this port.
    Tcp {
        /// The port.
        port: u16,
    },
    /// `GET` this URL (`http://HOST[:PORT]/PATH`); a 2xx or 3xx status is
    /// healthy.
    Http {
        /// The URL.
        url: String,
    },
}

/// A backend's health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// The probe.
    pub probe: Probe,
    /// Its timing and thresholds.
    pub params: HealthParams,
}

/// One backend of a VIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// The backend's address (the outer destination of encapsulated
    /// packets).
    pub addr: IpAddr,
    /// Relative weight (0: drained).
    pub weight: u32,
    /// Optional active health check.
    pub health: Option<HealthCheck>,
    /// QUIC server id routed to this backend.
    pub quic_server_id: Option<u16>,
}

/// One VIP with its backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    /// Address, port, protocol.
    pub vip: Vip,
    /// Flags.
    pub options: VipOptions,
    /// Backends in file order.
    pub backends: Vec<BackendConfig>,
}

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbConfig {
    /// Global settings of the datapath.
    pub global: GlobalConfig,
    /// Health timing used where a backend's check gives none.
    pub health_defaults: HealthParams,
    /// The VIPs.
    pub vips: Vec<VipConfig>,
}

impl LbConfig {
    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<LbConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        LbConfig::parse(&text)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<LbConfig, ConfigError> {
        let v = parse_value(text)?;
        config_from_value(&v)
    }
}

/// Parses YAML or JSON text into a value.
pub fn parse_value(text: &str) -> Result<Value, ConfigError> {
    serde_norway::from_str(text).map_err(|e| ConfigError::Syntax { msg: e.to_string() })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping whose keys are all in `allowed`.
fn mapping<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a Mapping, ConfigError> {
    let m = v
        .as_mapping()
        .ok_or_else(|| field(path, format!("expected a mapping, found {}", kind(v))))?;
    for k in m.keys() {
        let name = k
            .as_str()
            .ok_or_else(|| field(path, "keys must be strings"))?;
        if !allowed.contains(&name) {
            return Err(field(
                &join(path, name),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(m)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn req<'a>(m: &'a Mapping, path: &str, key: &str) -> Result<&'a Value, ConfigError> {
    get(m, key).ok_or_else(|| field(&join(path, key), "required"))
}

fn uint(v: &Value, path: &str, max: u64) -> Result<u64, ConfigError> {
    let n = v
        .as_u64()
        .ok_or_else(|| field(path, format!("expected an integer, found {}", kind(v))))?;
    if n > max {
        return Err(field(path, format!("{n} is above the maximum {max}")));
    }
    Ok(n)
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, ConfigError> {
    v.as_str()
        .ok_or_else(|| field(path, format!("expected a string, found {}", kind(v))))
}

/// An IP address given as a string (YAML has no address type).
fn ip(v: &Value, path: &str) -> Result<IpAddr, ConfigError> {
    let s = string(v, path)?;
    s.parse()
        .map_err(|_| field(path, format!("{s:?} is not an IPv4 or IPv6 address")))
}

/// `tcp` or `udp` (or the protocol number 6 or 17).
pub fn proto(v: &Value, path: &str) -> Result<u8, ConfigError> {
    match v {
        Value::String(s) => parse_proto(s).ok_or_else(|| field(path, "expected tcp or udp")),
        Value::Number(_) => match v.as_u64() {
            Some(6) => Ok(6),
            Some(17) => Ok(17),
            _ => Err(field(path, "expected tcp or udp")),
        },
        _ => Err(field(
            path,
            format!("expected tcp or udp, found {}", kind(v)),
        )),
    }
}

/// `tcp` -> 6, `udp` -> 17.
pub fn parse_proto(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(6),
        "udp" | "17" => Some(17),
        _ => None,
    }
}

/// The name of protocol `p`.
pub fn proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

fn mac(v: &Value, path: &str) -> Result<[u8; 6], ConfigError> {
    let s = string(v, path)?;
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let bad = || {
        field(
            path,
            format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
        )
    };
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn millis(v: &Value, path: &str) -> Result<Duration, ConfigError> {
    let n = uint(v, path, 3_600_000)?;
    if n == 0 {
        return Err(field(path, "must be at least 1"));
    }
    Ok(Duration::from_millis(n))
}

fn threshold(v: &Value, path: &str) -> Result<u32, ConfigError> {
    let n = uint(v, path, 1000)? as u32;
    if n == 0 {
        return Err(field(path, "must be at least 1"));
    }
    Ok(n)
}

const PARAM_FIELDS: [&str; 4] = ["interval_ms", "timeout_ms", "rise", "fall"];

/// Fills `p` from the timing fields present in `m`.
fn params(m: &Mapping, path: &str, mut p: HealthParams) -> Result<HealthParams, ConfigError> {
    if let Some(v) = get(m, "interval_ms") {
        p.interval = millis(v, &join(path, "interval_ms"))?;
    }
    if let Some(v) = get(m, "timeout_ms") {
        p.timeout = millis(v, &join(path, "timeout_ms"))?;
    }
    if let Some(v) = get(m, "rise") {
        p.rise = threshold(v, &join(path, "rise"))?;
    }
    if let Some(v) = get(m, "fall") {
        p.fall = threshold(v, &join(path, "fall"))?;
    }
    Ok(p)
}

/// A backend's `health` field: `{tcp: PORT}` or `{http: URL}`, optionally
/// with its own timing.
pub fn health_check(
    v: &Value,
    path: &str,
    defaults: HealthParams,
) -> Result<HealthCheck, ConfigError> {
    let mut allowed = vec!["tcp", "http"];
    allowed.extend(PARAM_FIELDS);
    let m = mapping(v, path, &allowed)?;
    let probe = match (get(m, "tcp"), get(m, "http")) {
        (Some(p), None) => Probe::Tcp {
            port: uint(p, &join(path, "tcp"), 65535)? as u16,
        },
        (None, Some(u)) => {
            let p = join(path, "http");
            let url = string(u, &p)?;
            parse_http_url(url).map_err(|msg| field(&p, msg))?;
            Probe::Http { url: url.into() }
        }
        (Some(_), Some(_)) => return Err(field(path, "give tcp or http, not both")),
        (None, None) => return Err(field(path, "expected tcp: PORT or http: URL")),
    };
    Ok(HealthCheck {
        probe,
        params: params(m, path, defaults)?,
    })
}

/// Splits `http://HOST[:PORT][/PATH]` into (host, port, path).
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are checked"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| format!("{url:?}: unclosed '['"))?;
        let port = &v6[end + 1..];
        (v6[..end].to_string(), port.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("{url:?}: bad port {p:?}"))?,
        None => 80,
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok((host, port, path.to_string()))
}

/// Most a weight may be (keeps weighted shares well inside `u64`).
pub const MAX_WEIGHT: u64 = 1_000_000;

/// One backend entry (config file or API body).
pub fn backend(
    v: &Value,
    path: &str,
    defaults: HealthParams,
) -> Result<BackendConfig, ConfigError> {
    let m = mapping(v, path, &["address", "weight", "health", "quic_server_id"])?;
    let addr = ip(req(m, path, "address")?, &join(path, "address"))?;
    let weight = match get(m, "weight") {
        Some(w) => uint(w, &join(path, "weight"), MAX_WEIGHT)? as u32,
        None => 1,
    };
    let health = get(m, "health")
        .map(|h| health_check(h, &join(path, "health"), defaults))
        .transpose()?;
    let quic_server_id = get(m, "quic_server_id")
        .map(|q| uint(q, &join(path, "quic_server_id"), 4095).map(|n| n as u16))
        .transpose()?;
    Ok(BackendConfig {
        addr,
        weight,
        health,
        quic_server_id,
    })
}

/// VIP flags: a list of `src_only`, `all_ports`, `quic`.
fn flags(v: &Value, path: &str) -> Result<VipOptions, ConfigError> {
    let list = v
        .as_sequence()
        .ok_or_else(|| field(path, format!("expected a list, found {}", kind(v))))?;
    let mut o = VipOptions::default();
    for (i, f) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match string(f, &p)? {
            "src_only" => o.src_only = true,
            "all_ports" => o.all_ports = true,
            "quic" => o.quic = true,
            other => {
                return Err(field(
                    &p,
                    format!("unknown flag {other:?} (src_only, all_ports, quic)"),
                ));
            }
        }
    }
    Ok(o)
}

/// The names of the set flags.
pub fn flag_names(o: VipOptions) -> Vec<&'static str> {
    let mut v = Vec::new();
    if o.src_only {
        v.push("src_only");
    }
    if o.all_ports {
        v.push("all_ports");
    }
    if o.quic {
        v.push("quic");
    }
    v
}

/// One VIP entry (config file or API body).
pub fn vip(v: &Value, path: &str, defaults: HealthParams) -> Result<VipConfig, ConfigError> {
    let m = mapping(v, path, &["address", "port", "proto", "flags", "backends"])?;
    let addr = ip(req(m, path, "address")?, &join(path, "address"))?;
    let options = get(m, "flags")
        .map(|f| flags(f, &join(path, "flags")))
        .transpose()?
        .unwrap_or_default();
    let port = match get(m, "port") {
        // An all-ports VIP is keyed with port 0 in the datapath.
        Some(_) if options.all_ports => 0,
        Some(p) => uint(p, &join(path, "port"), 65535)? as u16,
        None if options.all_ports => 0,
        None => {
            return Err(field(
                &join(path, "port"),
                "required (or flags: [all_ports])",
            ));
        }
    };
    let proto = proto(req(m, path, "proto")?, &join(path, "proto"))?;
    if options.quic && proto != 17 {
        return Err(field(&join(path, "flags"), "quic needs proto: udp"));
    }
    let mut backends: Vec<BackendConfig> = Vec::new();
    if let Some(bs) = get(m, "backends") {
        let p = join(path, "backends");
        let list = bs
            .as_sequence()
            .ok_or_else(|| field(&p, format!("expected a list, found {}", kind(bs))))?;
        for (i, b) in list.iter().enumerate() {
            let bp = format!("{p}[{i}]");
            let be = backend(b, &bp, defaults)?;
            if backends.iter().any(|o| o.addr == be.addr) {
                return Err(field(
                    &join(&bp, "address"),
                    format!("{} is listed twice", be.addr),
                ));
            }
            backends.push(be);
        }
    }
    Ok(VipConfig {
        vip: Vip { addr, port, proto },
        options,
        backends,
    })
}

const TOP_FIELDS: [&str; 9] = [
    "nexthop_mac",
    "encap",
    "gue_port",
    "src4",
    "src6",
    "ring_size",
    "max_new_per_sec",
    "health_defaults",
    "vips",
];

/// The configuration in `v`.
pub fn config_from_value(v: &Value) -> Result<LbConfig, ConfigError> {
    let m = mapping(v, "", &TOP_FIELDS)?;
    let mut g = GlobalConfig {
        nexthop_mac: mac(req(m, "", "nexthop_mac")?, "nexthop_mac")?,
        ..GlobalConfig::default()
    };
    let encap = match get(m, "encap") {
        None => "ipip",
        Some(e) => string(e, "encap")?,
    };
    let gue_port = get(m, "gue_port")
        .map(|p| uint(p, "gue_port", 65535).map(|n| n as u16))
        .transpose()?;
    g.encap = match encap {
        "ipip" | "ip" => {
            if gue_port.is_some() {
                return Err(field("gue_port", "only with encap: gue"));
            }
            Encap::Ip
        }
        "gue" => {
            let port = gue_port.unwrap_or(6080);
            if port == 0 {
                return Err(field("gue_port", "must not be 0"));
            }
            Encap::Gue { port }
        }
        other => return Err(field("encap", format!("{other:?}: expected ipip or gue"))),
    };
    if let Some(s) = get(m, "src4") {
        g.src4 = match ip(s, "src4")? {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => return Err(field("src4", "expected an IPv4 address")),
        };
    }
    if let Some(s) = get(m, "src6") {
        g.src6 = match ip(s, "src6")? {
            IpAddr::V6(a) => a,
            IpAddr::V4(_) => return Err(field("src6", "expected an IPv6 address")),
        };
    }
    if let Some(r) = get(m, "ring_size") {
        let n = uint(r, "ring_size", 1 << 24)? as u32;
        if !maglev::is_prime(n) {
            return Err(field("ring_size", format!("{n} is not a prime")));
        }
        g.ring_size = n;
    }
    if let Some(r) = get(m, "max_new_per_sec") {
        g.max_new_per_sec = uint(r, "max_new_per_sec", u64::from(u32::MAX))? as u32;
    }
    let health_defaults = match get(m, "health_defaults") {
        Some(h) => {
            let hm = mapping(h, "health_defaults", &PARAM_FIELDS)?;
            params(hm, "health_defaults", HealthParams::default())?
        }
        None => HealthParams::default(),
    };
    let mut vips: Vec<VipConfig> = Vec::new();
    if let Some(vs) = get(m, "vips") {
        let list = vs
            .as_sequence()
            .ok_or_else(|| field("vips", format!("expected a list, found {}", kind(vs))))?;
        for (i, v) in list.iter().enumerate() {
            let p = format!("vips[{i}]");
            let vc = vip(v, &p, health_defaults)?;
            if vips.iter().any(|o| o.vip == vc.vip) {
                return Err(field(&p, format!("vip {} is listed twice", vc.vip)));
            }
            vips.push(vc);
        }
    }
    let c = LbConfig {
        global: g,
        health_defaults,
        vips,
    };
    check(&c)?;
    Ok(c)
}

/// Checks across entries: the number of VIPs and QUIC server ids (each
/// routes to one backend). The daemon checks every changed state with it.
pub fn check(c: &LbConfig) -> Result<(), ConfigError> {
    let (g, vips) = (&c.global, &c.vips);
    if vips.len() > g.max_vips as usize {
        return Err(field(
            "vips",
            format!(
                "{} vips, the datapath has room for {}",
                vips.len(),
                g.max_vips
            ),
        ));
    }
    let mut sids: Vec<(u16, IpAddr)> = Vec::new();
    for (i, vc) in vips.iter().enumerate() {
        for (j, b) in vc.backends.iter().enumerate() {
            if let Some(sid) = b.quic_server_id {
                if let Some((_, other)) = sids.iter().find(|(s, a)| *s == sid && *a != b.addr) {
                    return Err(field(
                        &format!("vips[{i}].backends[{j}].quic_server_id"),
                        format!("{sid} already routes to {other}"),
                    ));
                }
                sids.push((sid, b.addr));
            }
        }
    }
    Ok(())
}

/// Parses a VIP as written on the command line and in API paths:
/// `ADDR:PORT/PROTO`, `[V6ADDR]:PORT/PROTO`.
pub fn parse_vip(s: &str) -> Result<Vip, String> {
    let (hostport, proto) = s
        .rsplit_once('/')
        .ok_or_else(|| format!("vip {s:?}: expected ADDRESS:PORT/PROTO"))?;
    let proto =
        parse_proto(proto).ok_or_else(|| format!("vip {s:?}: protocol must be tcp or udp"))?;
    let (addr, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (a, p) = v6
            .split_once("]:")
            .ok_or_else(|| format!("vip {s:?}: expected [ADDRESS]:PORT/PROTO"))?;
        (a.parse::<Ipv6Addr>().map(IpAddr::V6).ok(), p)
    } else {
        let (a, p) = hostport
            .rsplit_once(':')
            .ok_or_else(|| format!("vip {s:?}: expected ADDRESS:PORT/PROTO"))?;
        (a.parse::<Ipv4Addr>().map(IpAddr::V4).ok(), p)
    };
    let addr = addr.ok_or_else(|| format!("vip {s:?}: bad address"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("vip {s:?}: bad port"))?;
    Ok(Vip { addr, port, proto })
}

/// How the API and the command line write a VIP: `10.0.0.1:80/tcp`,
/// `[fc00::1]:443/udp`.
pub fn vip_string(v: &Vip) -> String {
    match v.addr {
        IpAddr::V4(a) => format!("{a}:{}/{}", v.port, proto_name(v.proto)),
        IpAddr::V6(a) => format!("[{a}]:{}/{}", v.port, proto_name(v.proto)),
    }
}

fn m(pairs: Vec<(&str, Value)>) -> Value {
    let mut map = Mapping::new();
    for (k, v) in pairs {
        map.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(map)
}

fn params_value(p: &HealthParams) -> Vec<(&'static str, Value)> {
    vec![
        ("interval_ms", Value::from(p.interval.as_millis() as u64)),
        ("timeout_ms", Value::from(p.timeout.as_millis() as u64)),
        ("rise", Value::from(p.rise)),
        ("fall", Value::from(p.fall)),
    ]
}

impl LbConfig {
    /// The configuration as the YAML value [`LbConfig::parse`] reads back
    /// to the same configuration (every health check written with its
    /// full timing).
    pub fn to_value(&self) -> Value {
        let g = &self.global;
        let mac = g
            .nexthop_mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let mut top = vec![("nexthop_mac", Value::String(mac))];
        match g.encap {
            Encap::Ip => top.push(("encap", Value::from("ipip"))),
            Encap::Gue { port } => {
                top.push(("encap", Value::from("gue")));
                top.push(("gue_port", Value::from(port)));
            }
        }
        top.push(("src4", Value::String(g.src4.to_string())));
        top.push(("src6", Value::String(g.src6.to_string())));
        top.push(("ring_size", Value::from(g.ring_size)));
        top.push(("max_new_per_sec", Value::from(g.max_new_per_sec)));
        top.push(("health_defaults", m(params_value(&self.health_defaults))));
        let vips = self
            .vips
            .iter()
            .map(|vc| {
                let backends = vc
                    .backends
                    .iter()
                    .map(|b| {
                        let mut f = vec![
                            ("address", Value::String(b.addr.to_string())),
                            ("weight", Value::from(b.weight)),
                        ];
                        if let Some(h) = &b.health {
                            let mut hf = match &h.probe {
                                Probe::Tcp { port } => vec![("tcp", Value::from(*port))],
                                Probe::Http { url } => vec![("http", Value::String(url.clone()))],
                            };
                            hf.extend(params_value(&h.params));
                            f.push(("health", m(hf)));
                        }
                        if let Some(q) = b.quic_server_id {
                            f.push(("quic_server_id", Value::from(q)));
                        }
                        m(f)
                    })
                    .collect();
                let flags = flag_names(vc.options)
                    .into_iter()
                    .map(Value::from)
                    .collect();
                m(vec![
                    ("address", Value::String(vc.vip.addr.to_string())),
                    ("port", Value::from(vc.vip.port)),
                    ("proto", Value::String(proto_name(vc.vip.proto))),
                    ("flags", Value::Sequence(flags)),
                    ("backends", Value::Sequence(backends)),
                ])
            })
            .collect();
        top.push(("vips", Value::Sequence(vips)));
        m(top)
    }

    /// The configuration as YAML text.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(&self.to_value()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
nexthop_mac: "02:00:00:00:00:01"
encap: gue
gue_port: 6081
src4: 172.16.0.0
src6: "fc00::"
ring_size: 65537
max_new_per_sec: 5
health_defaults: { interval_ms: 200, timeout_ms: 100, rise: 1, fall: 2 }
vips:
  - address: 10.200.0.1
    port: 80
    proto: tcp
    flags: [src_only]
    backends:
      - address: 10.201.0.2
        weight: 3
        health: { tcp: 80 }
      - address: 10.201.0.3
        health: { http: "http://10.201.0.3:8080/health", fall: 5 }
        quic_server_id: 7
  - address: "fc00::1"
    port: 443
    proto: udp
    flags: [quic]
"#;

    fn err(text: &str) -> String {
        LbConfig::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_field() {
        let c = LbConfig::parse(GOOD).unwrap();
        assert_eq!(c.global.nexthop_mac, [2, 0, 0, 0, 0, 1]);
        assert_eq!(c.global.encap, Encap::Gue { port: 6081 });
        assert_eq!(c.global.max_new_per_sec, 5);
        assert_eq!(c.health_defaults.interval, Duration::from_millis(200));
        assert_eq!(c.vips.len(), 2);
        let v = &c.vips[0];
        assert_eq!(v.vip.to_string(), "10.200.0.1:80/6");
        assert!(v.options.src_only && !v.options.quic);
        assert_eq!(v.backends[0].weight, 3);
        assert_eq!(v.backends[1].weight, 1, "weight defaults to 1");
        assert_eq!(
            v.backends[0].health.as_ref().unwrap().probe,
            Probe::Tcp { port: 80 }
        );
        let h1 = v.backends[1].health.as_ref().unwrap();
        assert_eq!(h1.params.fall, 5);
        assert_eq!(h1.params.rise, 1, "unset fields come from health_defaults");
        assert_eq!(v.backends[1].quic_server_id, Some(7));
        assert!(c.vips[1].options.quic);
        assert_eq!(c.vips[1].vip.proto, 17);
    }

    #[test]
    fn bad_values_name_the_field_path() {
        let base = "nexthop_mac: \"02:00:00:00:00:01\"\nvips:\n  - {address: 10.0.0.1, port: 80, proto: tcp, backends: [{address: 10.1.0.1}, ";
        let cases = [
            (
                format!("{base}{{address: 10.1.0.2, weight: heavy}}]}}"),
                "vips[0].backends[1].weight: expected an integer",
            ),
            (
                format!("{base}{{address: 10.1.0.2, wieght: 1}}]}}"),
                "vips[0].backends[1].wieght: unknown field",
            ),
            (
                format!("{base}{{address: 10.1.0.300}}]}}"),
                "vips[0].backends[1].address: \"10.1.0.300\" is not an IPv4 or IPv6 address",
            ),
            (
                format!("{base}{{address: 10.1.0.1}}]}}"),
                "vips[0].backends[1].address: 10.1.0.1 is listed twice",
            ),
            (
                format!("{base}{{address: 10.1.0.2, health: {{tcp: 99999}}}}]}}"),
                "vips[0].backends[1].health.tcp: 99999 is above the maximum 65535",
            ),
            (
                format!("{base}{{address: 10.1.0.2, health: {{udp: 1}}}}]}}"),
                "vips[0].backends[1].health.udp: unknown field",
            ),
            (
                format!("{base}{{address: 10.1.0.2, health: {{http: \"https://x/\"}}}}]}}"),
                "vips[0].backends[1].health.http: \"https://x/\": only http:// URLs",
            ),
        ];
        for (text, want) in &cases {
            let got = err(text);
            assert!(got.starts_with(want), "{text}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn top_level_errors() {
        assert!(err("encap: ipip\n").starts_with("nexthop_mac: required"));
        assert!(
            err("nexthop_mac: \"02:00:00:00:00\"\n")
                .starts_with("nexthop_mac: \"02:00:00:00:00\" is not a MAC")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nring_size: 65536\n")
                .starts_with("ring_size: 65536 is not a prime")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nencap: vxlan\n")
                .starts_with("encap: \"vxlan\"")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\ngue_port: 1\n")
                .starts_with("gue_port: only with encap: gue")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nbogus: 1\n")
                .starts_with("bogus: unknown field")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nvips:\n  - {address: 10.0.0.1, port: 53, proto: udp, flags: [fast]}\n")
                .starts_with("vips[0].flags[0]: unknown flag \"fast\"")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nvips:\n  - {address: 10.0.0.1, port: 53, proto: tcp, flags: [quic]}\n")
                .starts_with("vips[0].flags: quic needs proto: udp")
        );
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nvips:\n  - {address: 10.0.0.1, port: 53, proto: sctp}\n")
                .starts_with("vips[0].proto: expected tcp or udp")
        );
        assert!(err("nexthop_mac: [1\n").starts_with("not valid YAML"));
        assert!(
            err("nexthop_mac: \"02:00:00:00:00:01\"\nhealth_defaults: {rise: 0}\n")
                .starts_with("health_defaults.rise: must be at least 1")
        );
    }

    #[test]
    fn json_bodies_use_the_same_checks() {
        let v = parse_value(
            r#"{"address": "10.0.0.1", "port": 80, "proto": "tcp", "flags": ["all_ports"]}"#,
        )
        .unwrap();
        let vc = vip(&v, "", HealthParams::default()).unwrap();
        assert!(vc.options.all_ports);
        let b = parse_value(r#"{"address": "10.1.0.1", "weight": -1}"#).unwrap();
        assert!(
            backend(&b, "", HealthParams::default())
                .unwrap_err()
                .to_string()
                .starts_with("weight: expected an integer")
        );
    }

    #[test]
    fn vip_strings_round_trip() {
        for s in ["10.0.0.1:80/tcp", "[fc00::1]:443/udp"] {
            assert_eq!(vip_string(&parse_vip(s).unwrap()), s);
        }
        assert!(parse_vip("10.0.0.1:80").is_err());
        assert!(parse_vip("10.0.0.1:80/icmp").is_err());
        assert!(parse_vip("fc00::1:80/tcp").is_err());
    }

    #[test]
    fn yaml_written_back_parses_to_the_same_configuration() {
        let c = LbConfig::parse(GOOD).unwrap();
        let text = c.to_yaml();
        assert_eq!(LbConfig::parse(&text).unwrap(), c, "{text}");
        let ip = LbConfig::parse("nexthop_mac: \"0a:0b:0c:0d:0e:0f\"\n").unwrap();
        assert_eq!(LbConfig::parse(&ip.to_yaml()).unwrap(), ip);
    }

    #[test]
    fn http_urls() {
        assert_eq!(
            parse_http_url("http://10.0.0.1:8080/h").unwrap(),
            ("10.0.0.1".into(), 8080, "/h".into())
        );
        assert_eq!(
            parse_http_url("http://[fc00::2]/").unwrap(),
            ("fc00::2".into(), 80, "/".into())
        );
        assert!(parse_http_url("ftp://x").is_err());
    }
}
