//! Network namespaces for end-to-end tests: two namespaces joined by a
//! veth pair, created with unique names (leftovers of killed runs with the
//! same prefix removed first) and deleted on drop, and threads moved into a
//! namespace. Needs root and `ip` (iproute2).

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

/// Runs `ip ARGS`; its stdout, or an error with its stderr.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes every namespace whose name starts with `prefix`.
pub fn remove_stale(prefix: &str) {
    if let Ok(list) = ip(&["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if name.starts_with(prefix) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}

/// Namespaces `<p>c` (client) and `<p>s` (server) joined by the veth pair
/// `<p>c0` - `<p>s0`, addressed `client_ip/24` and `server_ip/24`, up, with
/// `lo` up; `<p>` is the prefix and the process id. Deleted on drop.
#[derive(Debug)]
pub struct VethPair {
    /// The client namespace.
    pub client: String,
    /// The server namespace.
    pub server: String,
    /// The client's end.
    pub client_if: String,
    /// The server's end.
    pub server_if: String,
}

impl VethPair {
    /// Creates the pair with `queues` receive and transmit queues on each
    /// end, after removing namespaces left over with the same prefix.
    pub fn create(
        prefix: &str,
        queues: u32,
        client_ip: Ipv4Addr,
        server_ip: Ipv4Addr,
    ) -> Result<VethPair, String> {
        remove_stale(prefix);
        let p = format!("{prefix}{}", std::process::id() % 100_000);
        let pair = VethPair {
            client: format!("{p}c"),
            server: format!("{p}s"),
            client_if: format!("{p}c0"),
            server_if: format!("{p}s0"),
        };
        ip(&["netns", "add", &pair.client])?;
        ip(&["netns", "add", &pair.server])?;
        let q = queues.to_string();
        #[rustfmt::skip]
        ip(&[
            "link", "add", &pair.client_if, "numtxqueues", &q, "numrxqueues", &q,
            "netns", &pair.client, "type", "veth",
            "peer", "name", &pair.server_if, "numtxqueues", &q, "numrxqueues", &q,
            "netns", &pair.server,
        ])?;
        for (ns, dev, addr) in [
            (&pair.client, &pair.client_if, client_ip),
            (&pair.server, &pair.server_if, server_ip),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(pair)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.client]);
        let _ = ip(&["netns", "del", &self.server]);
    }
}

/// Runs `f` on a new thread moved into namespace `ns` (its network
/// namespace only; the thread's mount namespace stays).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> std::thread::JoinHandle<Result<T, String>> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: setns on a namespace fd we opened; affects this thread only.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        f()
    })
}
