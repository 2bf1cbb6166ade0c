//! The control API: HTTP/1.1 with JSON bodies, on a Unix socket (and
//! optionally TCP). One request per connection (`Connection: close`).
//!
//! | method | path | body | answer |
//! | --- | --- | --- | --- |
//! | GET | /v1/status | | iface, mode, api, vips, backends, adopted |
//! | GET | /v1/vips | | `{"vips": [VIP...]}` |
//! | POST | /v1/vips | `{address, port, proto, flags?, backends?}` | 201 `{"vip": ...}` |
//! | DELETE | /v1/vips/{address}:{port}/{proto} | | `{"deleted": ...}` |
//! | GET | /v1/vips/{vip}/backends | | `{"vip", "backends": [...]}` |
//! | POST | /v1/vips/{vip}/backends | `{address, weight?, health?, quic_server_id?}` | 201 new, 200 replaced |
//! | DELETE | /v1/vips/{vip}/backends/{address} | | |
//! | PUT | /v1/vips/{vip}/backends/{address}/weight | `{weight}` | |
//! | POST | /v1/vips/{vip}/backends/{address}/drain | | weight 0 |
//! | GET | /v1/stats | | counters (see [`crate::daemon::metrics`]) |
//! | GET | /metrics | | Prometheus text |
//! | POST | /v1/reload | | re-reads the configuration file (as SIGHUP) |
//! | POST | /v1/shutdown | `{detach?: bool}` | the daemon exits |
//!
//! `{vip}` is `ADDRESS:PORT/PROTO` (`10.0.0.1:80/tcp`, `[fc00::1]:443/udp`;
//! percent-encoding is decoded). Errors are 4xx/5xx with `{"error": "..."}`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::daemon::config::{self, ConfigError, LbConfig, vip_string};
use crate::daemon::metrics;
use crate::daemon::state::{Daemon, DaemonError};

/// What the API threads and the main loop share.
#[derive(Debug)]
pub struct Shared {
    /// The daemon.
    pub daemon: Mutex<Daemon>,
    /// The configuration file (for `/v1/reload` and SIGHUP).
    pub config_path: Option<PathBuf>,
    /// Set by `/v1/shutdown`.
    pub shutdown: AtomicBool,
    /// Set by `/v1/shutdown {"detach": true}`: remove the datapath.
    pub detach: AtomicBool,
}

impl Shared {
    /// Shares `daemon`.
    pub fn new(daemon: Daemon, config_path: Option<PathBuf>) -> Shared {
        Shared {
            daemon: Mutex::new(daemon),
            config_path,
            shutdown: AtomicBool::new(false),
            detach: AtomicBool::new(false),
        }
    }

    /// The daemon, locked (a panicked holder does not stop the API).
    pub fn lock(&self) -> MutexGuard<'_, Daemon> {
        self.daemon.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the configuration file and applies it as a diff; a bad
    /// file changes nothing. Returns the ring slots written.
    pub fn reload(&self) -> Result<usize, DaemonError> {
        let path = self
            .config_path
            .as_ref()
            .ok_or_else(|| DaemonError::Mismatch {
                what: "no configuration file to reload".into(),
            })?;
        let cfg = LbConfig::from_file(path)?;
        self.lock().apply(cfg)
    }
}

/// A parsed request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    fn json(status: u16, v: Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: v.to_string() + "\n",
        }
    }

    fn error(status: u16, msg: impl std::fmt::Display) -> Response {
        Response::json(status, json!({ "error": msg.to_string() }))
    }
}

fn daemon_error(e: DaemonError) -> Response {
    let status = match &e {
        DaemonError::Config(_) | DaemonError::Mismatch { .. } => 400,
        DaemonError::UnknownVip { .. } | DaemonError::UnknownBackend { .. } => 404,
        DaemonError::VipExists { .. } => 409,
        DaemonError::Control(_) => 500,
    };
    Response::error(status, e)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn body_value(req: &Request) -> Result<Value, Response> {
    let text =
        std::str::from_utf8(&req.body).map_err(|_| Response::error(400, "body: not UTF-8"))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| Response::error(400, format!("body: not valid JSON: {e}")))
}

fn yaml_body(req: &Request) -> Result<serde_norway::Value, Response> {
    // Checked as JSON first (so the error says JSON), then read through
    // the same field checks as the configuration file.
    body_value(req)?;
    let text = String::from_utf8_lossy(&req.body);
    config::parse_value(&text).map_err(|e| Response::error(400, e))
}

/// The JSON of one backend.
fn backend_json(d: &Daemon, vip: &crate::control::Vip, b: &config::BackendConfig) -> Value {
    let health = b.health.as_ref().map(|h| match &h.probe {
        config::Probe::Tcp { port } => json!({"tcp": port}),
        config::Probe::Http { url } => json!({"http": url}),
    });
    json!({
        "address": b.addr.to_string(),
        "weight": b.weight,
        "healthy": d.is_healthy(vip, b.addr),
        "health": health,
        "quic_server_id": b.quic_server_id,
    })
}

fn vip_json(d: &Daemon, vc: &config::VipConfig) -> Value {
    json!({
        "vip": vip_string(&vc.vip),
        "address": vc.vip.addr.to_string(),
        "port": vc.vip.port,
        "proto": config::proto_name(vc.vip.proto),
        "flags": config::flag_names(vc.options),
        "backends": vc.backends.iter().map(|b| backend_json(d, &vc.vip, b)).collect::<Vec<_>>(),
    })
}

/// Answers one request.
pub fn handle(shared: &Shared, req: &Request) -> Response {
    let segs: Vec<String> = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("GET", ["metrics"]) => match metrics::collect(&shared.lock()) {
            Ok(s) => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                body: s.to_prometheus(),
            },
            Err(e) => Response::error(500, e),
        },
        ("GET", ["v1", "stats"]) => match metrics::collect(&shared.lock()) {
            Ok(s) => Response::json(200, s.to_json()),
            Err(e) => Response::error(500, e),
        },
        ("GET", ["v1", "status"]) => {
            let d = shared.lock();
            let (vips, backends) = d.counts();
            Response::json(
                200,
                json!({
                    "iface": d.info.iface, "mode": d.info.mode, "api": d.info.api,
                    "vips": vips, "backends": backends,
                    "adopted": {"vips": d.adopted.vips, "backends": d.adopted.backends},
                    "ring_size": d.config().global.ring_size,
                }),
            )
        }
        ("GET", ["v1", "vips"]) => {
            let d = shared.lock();
            let vips: Vec<Value> = d.config().vips.iter().map(|v| vip_json(&d, v)).collect();
            Response::json(200, json!({ "vips": vips }))
        }
        ("POST", ["v1", "vips"]) => {
            let v = match yaml_body(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let mut d = shared.lock();
            let defaults = d.config().health_defaults;
            let vc = match config::vip(&v, "", defaults) {
                Ok(vc) => vc,
                Err(e) => return Response::error(400, e),
            };
            let name = vip_string(&vc.vip);
            match d.add_vip(vc) {
                Ok(_) => Response::json(201, json!({ "vip": name })),
                Err(e) => daemon_error(e),
            }
        }
        ("POST", ["v1", "reload"]) => match shared.reload() {
            Ok(n) => Response::json(200, json!({ "reloaded": true, "slots_written": n })),
            Err(e) => daemon_error(e),
        },
        ("POST", ["v1", "shutdown"]) => {
            let v = match body_value(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let detach = v.get("detach").and_then(Value::as_bool).unwrap_or(false);
            shared.detach.store(detach, Ordering::Relaxed);
            shared.shutdown.store(true, Ordering::Relaxed);
            Response::json(200, json!({ "shutdown": true, "detach": detach }))
        }
        (_, ["v1", "vips", hostport, proto, rest @ ..]) => {
            let vip = match config::parse_vip(&format!("{hostport}/{proto}")) {
                Ok(v) => v,
                Err(e) => return Response::error(400, e),
            };
            vip_routes(shared, req, &vip, rest)
        }
        (_, ["metrics"] | ["v1", "stats" | "status" | "vips" | "reload" | "shutdown"]) => {
            Response::error(405, format!("{m} {}: method not allowed", req.path))
        }
        _ => Response::error(404, format!("{m} {}: no such endpoint", req.path)),
    }
}

fn parse_backend_addr(s: &str) -> Result<IpAddr, Response> {
    s.parse()
        .map_err(|_| Response::error(400, format!("backend {s:?}: not an IP address")))
}

fn vip_routes(
    shared: &Shared,
    req: &Request,
    vip: &crate::control::Vip,
    rest: &[&str],
) -> Response {
    let name = vip_string(vip);
    let m = req.method.as_str();
    let done = |r: Result<usize, DaemonError>, v: Value| match r {
        Ok(n) => {
            let mut v = v;
            v["slots_written"] = n.into();
            Response::json(200, v)
        }
        Err(e) => daemon_error(e),
    };
    match (m, rest) {
        ("DELETE", []) => done(shared.lock().del_vip(vip), json!({"deleted": name})),
        ("GET", []) => {
            let d = shared.lock();
            match d.config().vips.iter().find(|v| v.vip == *vip) {
                Some(vc) => Response::json(200, vip_json(&d, vc)),
                None => daemon_error(DaemonError::UnknownVip { vip: name }),
            }
        }
        ("GET", ["backends"]) => {
            let d = shared.lock();
            match d.config().vips.iter().find(|v| v.vip == *vip) {
                Some(vc) => Response::json(
                    200,
                    json!({
                        "vip": name,
                        "backends": vc.backends.iter().map(|b| backend_json(&d, vip, b)).collect::<Vec<_>>(),
                    }),
                ),
                None => daemon_error(DaemonError::UnknownVip { vip: name }),
            }
        }
        ("POST", ["backends"]) => {
            let v = match yaml_body(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let mut d = shared.lock();
            let defaults = d.config().health_defaults;
            let b = match config::backend(&v, "", defaults) {
                Ok(b) => b,
                Err(e) => return Response::error(400, e),
            };
            let addr = b.addr.to_string();
            match d.put_backend(vip, b) {
                Ok(fresh) => Response::json(
                    if fresh { 201 } else { 200 },
                    json!({"vip": name, "backend": addr, "added": fresh}),
                ),
                Err(e) => daemon_error(e),
            }
        }
        ("DELETE", ["backends", addr]) => {
            let a = match parse_backend_addr(addr) {
                Ok(a) => a,
                Err(r) => return r,
            };
            done(
                shared.lock().del_backend(vip, a),
                json!({"vip": name, "deleted": a.to_string()}),
            )
        }
        ("PUT", ["backends", addr, "weight"]) => {
            let a = match parse_backend_addr(addr) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let v = match body_value(req) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let Some(w) = v.get("weight") else {
                return Response::error(
                    400,
                    ConfigError::Field {
                        path: "weight".into(),
                        msg: "required".into(),
                    },
                );
            };
            let Some(w) = w.as_u64().filter(|w| *w <= config::MAX_WEIGHT) else {
                return Response::error(
                    400,
                    format!(
                        "weight: expected an integer from 0 to {}",
                        config::MAX_WEIGHT
                    ),
                );
            };
            done(
                shared.lock().set_weight(vip, a, w as u32),
                json!({"vip": name, "backend": a.to_string(), "weight": w}),
            )
        }
        ("POST", ["backends", addr, "drain"]) => {
            let a = match parse_backend_addr(addr) {
                Ok(a) => a,
                Err(r) => return r,
            };
            done(
                shared.lock().set_weight(vip, a, 0),
                json!({"vip": name, "backend": a.to_string(), "weight": 0, "drained": true}),
            )
        }
        _ => Response::error(404, format!("{m} {}: no such endpoint", req.path)),
    }
}

/// Most bytes of a request's head and of its body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1 << 20;

/// Reads one request from `s`.
pub fn read_request(s: &mut impl Read) -> Result<Request, String> {
    // Bounded, so a line without an end cannot grow without limit.
    let mut r = BufReader::new(s.take((MAX_HEAD + MAX_BODY) as u64));
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("bad request line {:?}", line.trim_end()));
    };
    let path = target.split('?').next().unwrap_or("/").to_string();
    let method = method.to_string();
    let mut len = 0usize;
    let mut head = line.len();
    loop {
        let mut h = String::new();
        let n = r.read_line(&mut h).map_err(|e| e.to_string())?;
        head += n;
        if n == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if head > MAX_HEAD {
            return Err("request head too large".into());
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v
                .trim()
                .parse()
                .map_err(|_| format!("bad Content-Length {:?}", v.trim()))?;
        }
    }
    if len > MAX_BODY {
        return Err(format!("body of {len} bytes is too large"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(Request { method, path, body })
}

/// Writes `resp` to `s`.
pub fn write_response(s: &mut impl Write, resp: &Response) -> std::io::Result<()> {
    let reason = match resp.status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        _ => "Error",
    };
    write!(
        s,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        resp.status,
        resp.content_type,
        resp.body.len(),
        resp.body
    )?;
    s.flush()
}

/// Serves one connection; returns the request's method and path and the
/// answer's status (for the daemon's log).
pub fn serve_conn<S: Read + Write>(shared: &Shared, mut s: S) -> (String, String, u16) {
    let (method, path, resp) = match read_request(&mut s) {
        Ok(req) => {
            let resp = handle(shared, &req);
            (req.method, req.path, resp)
        }
        Err(e) => (String::new(), String::new(), Response::error(400, e)),
    };
    let _ = write_response(&mut s, &resp);
    (method, path, resp.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::DaemonInfo;
    use crate::daemon::state::tests::{CFG, mem};

    fn shared() -> Shared {
        let d = Daemon::start(
            mem(),
            LbConfig::parse(CFG).unwrap(),
            false,
            DaemonInfo::default(),
        )
        .unwrap();
        Shared::new(d, None)
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

    #[test]
    fn vip_and_backend_routes() {
        let s = shared();
        let (st, v) = call(&s, "GET", "/v1/vips", "");
        assert_eq!(st, 200);
        assert_eq!(v["vips"][0]["vip"], "10.200.0.1:80/tcp");
        assert_eq!(v["vips"][0]["backends"].as_array().unwrap().len(), 3);

        let (st, v) = call(
            &s,
            "POST",
            "/v1/vips",
            r#"{"address":"10.200.0.9","port":53,"proto":"udp"}"#,
        );
        assert_eq!((st, v["vip"].as_str()), (201, Some("10.200.0.9:53/udp")));
        let (st, _) = call(
            &s,
            "POST",
            "/v1/vips",
            r#"{"address":"10.200.0.9","port":53,"proto":"udp"}"#,
        );
        assert_eq!(st, 409);
        let (st, v) = call(
            &s,
            "POST",
            "/v1/vips/10.200.0.9:53/udp/backends",
            r#"{"address":"10.201.0.7","weight":2,"health":{"tcp":53}}"#,
        );
        assert_eq!(st, 201, "{v}");
        let (st, v) = call(&s, "GET", "/v1/vips/10.200.0.9%3A53/udp/backends", "");
        assert_eq!(st, 200);
        assert_eq!(v["backends"][0]["address"], "10.201.0.7");
        assert_eq!(v["backends"][0]["weight"], 2);
        assert_eq!(v["backends"][0]["health"]["tcp"], 53);

        let (st, _) = call(
            &s,
            "PUT",
            "/v1/vips/10.200.0.9:53/udp/backends/10.201.0.7/weight",
            r#"{"weight":5}"#,
        );
        assert_eq!(st, 200);
        let (st, _) = call(
            &s,
            "POST",
            "/v1/vips/10.200.0.1:80/tcp/backends/10.201.0.2/drain",
            "",
        );
        assert_eq!(st, 200);
        {
            let d = s.lock();
            let vc = &d.config().vips;
            assert_eq!(vc[0].backends[0].weight, 0);
            assert_eq!(vc[1].backends[0].weight, 5);
        }
        let (st, _) = call(
            &s,
            "DELETE",
            "/v1/vips/10.200.0.9:53/udp/backends/10.201.0.7",
            "",
        );
        assert_eq!(st, 200);
        let (st, _) = call(&s, "DELETE", "/v1/vips/10.200.0.9:53/udp", "");
        assert_eq!(st, 200);
        assert_eq!(s.lock().counts(), (1, 3));
    }

    #[test]
    fn errors_are_json_with_the_right_status() {
        let s = shared();
        let cases = [
            (
                "POST",
                "/v1/vips",
                r#"{"address":"10.200.0.9","port":"x","proto":"udp"}"#,
                400,
                "port: expected an integer",
            ),
            ("POST", "/v1/vips", "{not json", 400, "body: not valid JSON"),
            (
                "POST",
                "/v1/vips/10.200.0.1:80/tcp/backends",
                r#"{"address":"10.1.1.1","colour":1}"#,
                400,
                "colour: unknown field",
            ),
            (
                "DELETE",
                "/v1/vips/10.9.9.9:80/tcp",
                "",
                404,
                "vip 10.9.9.9:80/tcp: not configured",
            ),
            (
                "PUT",
                "/v1/vips/10.200.0.1:80/tcp/backends/10.9.9.9/weight",
                r#"{"weight":1}"#,
                404,
                "vip 10.200.0.1:80/tcp: backend 10.9.9.9 is not configured",
            ),
            (
                "PUT",
                "/v1/vips/10.200.0.1:80/tcp/backends/10.201.0.2/weight",
                r#"{"weight":-1}"#,
                400,
                "weight: expected an integer",
            ),
            (
                "GET",
                "/v1/nothing",
                "",
                404,
                "GET /v1/nothing: no such endpoint",
            ),
            (
                "DELETE",
                "/v1/stats",
                "",
                405,
                "DELETE /v1/stats: method not allowed",
            ),
            (
                "GET",
                "/v1/vips/10.200.0.1:80/sctp/backends",
                "",
                400,
                "protocol must be tcp or udp",
            ),
        ];
        for (m, p, b, want_status, want) in cases {
            let (st, v) = call(&s, m, p, b);
            let e = v["error"].as_str().unwrap_or_default();
            assert_eq!(st, want_status, "{m} {p}: {v}");
            assert!(e.contains(want), "{m} {p}: {e:?} lacks {want:?}");
        }
        assert_eq!(s.lock().counts(), (1, 3), "failed calls change nothing");
    }

    #[test]
    fn client_paths_reach_the_routes_for_ipv6_vips() {
        let s = shared();
        let (st, v) = call(
            &s,
            "POST",
            "/v1/vips",
            r#"{"address":"fc00::1","port":443,"proto":"udp"}"#,
        );
        assert_eq!(st, 201, "{v}");
        let vip = config::parse_vip("[fc00::1]:443/udp").unwrap();
        let path = crate::daemon::client::vip_path(&vip);
        assert_eq!(path, "/v1/vips/%5Bfc00::1%5D:443/udp");
        let (st, v) = call(
            &s,
            "POST",
            &format!("{path}/backends"),
            r#"{"address":"fc01::2"}"#,
        );
        assert_eq!(st, 201, "{v}");
        let (st, v) = call(&s, "GET", &format!("{path}/backends"), "");
        assert_eq!(
            (st, v["backends"][0]["address"].as_str()),
            (200, Some("fc01::2"))
        );
        let (st, _) = call(&s, "DELETE", &path, "");
        assert_eq!(st, 200);
    }

    #[test]
    fn http_framing_round_trips() {
        let s = shared();
        let body = r#"{"address":"10.0.0.5","port":80,"proto":"tcp"}"#;
        // Bytes after the body (a client's next request) are not read.
        let raw = format!(
            "POST /v1/vips?x=1 HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n{body}GARBAGE",
            body.len()
        );
        let mut c = std::io::Cursor::new(raw.into_bytes());
        let req = read_request(&mut c).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/vips");
        assert_eq!(req.body, body.as_bytes());
        let resp = handle(&s, &req);
        let mut out = Vec::new();
        write_response(&mut out, &resp).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 201 Created\r\n"), "{text}");
        assert!(text.contains("Content-Type: application/json\r\n"));
        let (st, body) = call(&s, "GET", "/metrics", "");
        assert_eq!(st, 200);
        assert!(
            body.as_str()
                .unwrap()
                .contains("oxbpf_lb_vip_packets_total{vip=\"10.0.0.5:80/tcp\"} 0")
        );
    }
}
