//! A client of the control API (what `oxbpf lb vip|backend|stats|stop`
//! use): one HTTP/1.1 request per connection over the Unix socket or TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket.
    Unix(PathBuf),
    /// `HOST:PORT` over TCP.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// Errors talking to the daemon.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No daemon answers there.
    #[error("cannot reach the lb daemon at {endpoint}: {err} (is `oxbpf lb run` running there?)")]
    Connect {
        /// Where.
        endpoint: String,
        /// The OS error (in the message, not a `source`, so a printed
        /// error chain does not repeat it).
        err: std::io::Error,
    },
    /// The exchange broke off.
    #[error("lb daemon at {endpoint}: {msg}")]
    Protocol {
        /// Where.
        endpoint: String,
        /// What went wrong.
        msg: String,
    },
    /// The daemon refused the request.
    #[error("{msg} (HTTP {status})")]
    Refused {
        /// The status code.
        status: u16,
        /// Its `error` message.
        msg: String,
    },
}

/// A response: status and body text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
}

fn exchange<S: Read + Write>(mut s: S, req: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(req)?;
    s.flush()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Sends one request; `body` is sent as JSON.
pub fn request(
    ep: &Endpoint,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Reply, ClientError> {
    let text = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: oxbpf-lb\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let endpoint = ep.to_string();
    let connect = |err| ClientError::Connect {
        endpoint: endpoint.clone(),
        err,
    };
    let proto = |e: std::io::Error| ClientError::Protocol {
        endpoint: endpoint.clone(),
        msg: e.to_string(),
    };
    let timeout = Some(Duration::from_secs(60));
    let raw = match ep {
        Endpoint::Unix(p) => {
            let s = UnixStream::connect(p).map_err(connect)?;
            s.set_read_timeout(timeout).map_err(proto)?;
            exchange(s, req.as_bytes()).map_err(proto)?
        }
        Endpoint::Tcp(a) => {
            let s = TcpStream::connect(a).map_err(connect)?;
            s.set_read_timeout(timeout).map_err(proto)?;
            exchange(s, req.as_bytes()).map_err(proto)?
        }
    };
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ClientError::Protocol {
            endpoint: endpoint.clone(),
            msg: "no HTTP response".into(),
        })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Protocol {
            endpoint: endpoint.clone(),
            msg: format!("bad status line {:?}", head.lines().next().unwrap_or("")),
        })?;
    Ok(Reply {
        status,
        body: body.to_string(),
    })
}

/// Sends one request and returns its JSON body; a 4xx/5xx answer is
/// [`ClientError::Refused`] with the daemon's message.
pub fn call(
    ep: &Endpoint,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ClientError> {
    let r = request(ep, method, path, body)?;
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()));
    if r.status >= 400 {
        let msg = v
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| r.body.trim().to_string());
        return Err(ClientError::Refused {
            status: r.status,
            msg,
        });
    }
    Ok(v)
}

/// Percent-encodes a path segment's reserved characters (`/`, `[`, `]`,
/// `%`, space, `?`, `#`).
pub fn encode_segment(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '/' | '[' | ']' | '%' | ' ' | '?' | '#' => o.push_str(&format!("%{:02X}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// The API path of a VIP (`/v1/vips/10.0.0.1:80/tcp`).
pub fn vip_path(vip: &crate::control::Vip) -> String {
    let s = crate::daemon::config::vip_string(vip);
    let (hp, proto) = s.rsplit_once('/').unwrap_or((&s, ""));
    format!("/v1/vips/{}/{proto}", encode_segment(hp))
}
