//! The load balancer's direct-server-return topology in network
//! namespaces, for the end-to-end test, the demo and the benchmark of
//! `apps/lb` (issue 11). Needs root and iproute2.
//!
//! ```text
//!   client ns (P c)                router ns (P r)              lb ns (P l)
//!   Pc0 10.210.1.2/24 ──── Prc 10.210.1.1/24
//!                              Prl 10.202.0.1/24 ──── Pl0 10.202.0.2/24  [XDP balancer]
//!   backend ns k (P bk)        Prbk 10.201.k.1/24
//!   Pbk 10.201.k.2/24 ─────────┘
//!   Ptk ipip (external) holding the VIP 10.200.0.1/32, or, on kernels
//!   without ipip, the VIP on lo and XDP decapsulation on Pbk
//! ```
//!
//! The router forwards the VIP's /24 to the load balancer. The balancer's
//! XDP program encapsulates each packet in IPIP to the backend, sets the
//! destination MAC to the router's `Prl` and sends it back out (`XDP_TX`);
//! the router forwards it by the outer destination. The backend's ipip
//! device (or [`LbNet::attach_xdp_decap`]'s program) decapsulates, its
//! stack answers from the VIP straight to the
//! client through the router (direct server return). `rp_filter` is off
//! everywhere: the decapsulated packet arrives on the tunnel device while
//! the route back to the client is the backend's veth, and the outer
//! source addresses (172.16.0.0/16 by default, derived from the flow
//! hash) have no route in the router.
//!
//! Names carry the prefix and the process id (`<prefix><pid>`), stale
//! namespaces with the same prefix are removed first, and everything goes
//! on drop (unless [`LbNet::keep`] is called, for the demo script, which
//! removes it later with [`crate::netns::remove_stale`]).
//!
//! The client's veth sends complete checksums ([`tx_checksum_off`]) and
//! has an MTU of [`CLIENT_MTU`], 20 bytes under the rest, for the IPIP
//! header.
//!
//! [`serve`] is a tiny HTTP/1.0 server answering `backend=NAME`, and
//! [`request`] / [`LongConn`] the client side.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::netns::{ip, remove_stale};

/// Where oxbpf pins kernel-mode attachments (`/sys/fs/bpf/oxbpf`).
pub const PIN_ROOT: &str = "/sys/fs/bpf/oxbpf";

/// The pin directory of `oxbpf xdp attach --mode kernel` on `iface`.
pub fn pin_dir(iface: &str) -> PathBuf {
    Path::new(PIN_ROOT).join(iface)
}

/// The VIP the router sends to the load balancer.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// The client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 210, 1, 2);
/// The router's address on the client link.
pub const ROUTER_CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 210, 1, 1);
/// The load balancer's address.
pub const LB_IP: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 2);
/// The router's address on the load balancer link.
pub const ROUTER_LB_IP: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 1);
/// MTU of the client's link: 20 bytes under the others, so a full-size
/// client segment still fits after IPIP encapsulation (the client
/// advertises and uses an MSS of 1440).
pub const CLIENT_MTU: u32 = 1480;

/// Backend `k`'s address (k from 1).
pub fn backend_ip(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, k, 2)
}

/// One backend namespace.
#[derive(Clone, Debug)]
pub struct Backend {
    /// Its name (`b1`, `b2`, ...), also what its HTTP server answers.
    pub name: String,
    /// The namespace.
    pub ns: String,
    /// Its veth end.
    pub iface: String,
    /// The ipip device holding the VIP.
    pub tunnel: String,
    /// Its address.
    pub addr: Ipv4Addr,
}

/// The whole topology (see the module docs).
#[derive(Debug)]
pub struct LbNet {
    /// `<prefix><pid>`, the start of every name.
    pub prefix: String,
    /// Router namespace.
    pub router: String,
    /// Client namespace.
    pub client: String,
    /// Load-balancer namespace.
    pub lb: String,
    /// The client's veth end.
    pub client_if: String,
    /// The load balancer's veth end (where XDP runs).
    pub lb_if: String,
    /// The router's end facing the load balancer.
    pub router_lb_if: String,
    /// MAC of `router_lb_if`: the balancer's next hop.
    pub router_lb_mac: String,
    /// MAC of `lb_if`.
    pub lb_mac: String,
    /// The backends.
    pub backends: Vec<Backend>,
    /// How the backends decapsulate.
    pub decap: Decap,
    keep: bool,
}

/// How backends decapsulate the balancer's IPIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decap {
    /// An `ipip` device in collect-metadata mode holding the VIP.
    Ipip,
    /// The kernel has no ipip device: the VIP is on `lo` and the XDP
    /// program `apps/lb/bpf/decap.bpf.c` strips the outer header on the
    /// backend's veth (attached by [`LbNet::attach_xdp_decap`]).
    Xdp,
}

fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    ip(&[
        "netns",
        "exec",
        ns,
        "sysctl",
        "-q",
        "-w",
        &format!("{key}={value}"),
    ])
    .map(|_| ())
}

fn rp_filter_off(ns: &str, devs: &[&str]) -> Result<(), String> {
    // The effective value is the maximum of `all` and the device's.
    for d in ["all", "default"].iter().chain(devs) {
        sysctl(ns, &format!("net.ipv4.conf.{d}.rp_filter"), "0")?;
    }
    Ok(())
}

fn veth(a: &str, a_ns: &str, b: &str, b_ns: &str) -> Result<(), String> {
    #[rustfmt::skip]
    let args = ["link", "add", a, "netns", a_ns, "type", "veth", "peer", "name", b, "netns", b_ns];
    ip(&args).map(|_| ())
}

fn addr_up(ns: &str, dev: &str, cidr: &str) -> Result<(), String> {
    ip(&["-n", ns, "addr", "add", cidr, "dev", dev])?;
    ip(&["-n", ns, "link", "set", dev, "up"])?;
    Ok(())
}

/// `struct ethtool_value` of linux/ethtool.h.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `ETHTOOL_STXCSUM`: set transmit checksum offload (linux/ethtool.h).
const ETHTOOL_STXCSUM: u32 = 0x17;
/// `SIOCETHTOOL` (linux/sockios.h).
const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// Turns transmit checksum offload off on `dev` in namespace `ns` (what
/// `ethtool -K DEV tx off` does), so its packets carry complete TCP and
/// UDP checksums as packets from a real network do. A veth otherwise
/// leaves them `CHECKSUM_PARTIAL` (only the pseudo-header sum in the
/// field), which an XDP program that sends the frame on from user space
/// (AF_XDP) would forward unfinished.
pub fn tx_checksum_off(ns: &str, dev: &str) -> Result<(), String> {
    let dev = dev.to_string();
    crate::netns::in_netns(ns, move || {
        // SAFETY: plain socket(2); the fd is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let mut value = EthtoolValue {
            cmd: ETHTOOL_STXCSUM,
            data: 0,
        };
        // SAFETY: an all-zero ifreq is valid (a name and a union of plain
        // data and pointers).
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, b) in ifr
            .ifr_name
            .iter_mut()
            .zip(dev.bytes().take(libc::IFNAMSIZ - 1))
        {
            *d = b as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
        // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it
        // points to, both alive for the call.
        let rc = unsafe { libc::ioctl(fd, SIOCETHTOOL, &mut ifr) };
        let err = std::io::Error::last_os_error();
        // SAFETY: closing the socket we opened.
        unsafe { libc::close(fd) };
        if rc != 0 {
            return Err(format!("ethtool tx off on {dev}: {err}"));
        }
        Ok(())
    })
    .join()
    .map_err(|_| "ethtool thread panicked".to_string())?
}

/// The MAC address of `dev` in namespace `ns`.
pub fn mac_of(ns: &str, dev: &str) -> Result<String, String> {
    let out = ip(&["-n", ns, "-o", "link", "show", "dev", dev])?;
    let mut words = out.split_whitespace();
    words
        .by_ref()
        .find(|w| *w == "link/ether")
        .and_then(|_| words.next())
        .map(str::to_string)
        .ok_or_else(|| format!("no MAC for {dev} in {ns}: {out:?}"))
}

impl LbNet {
    /// Builds the topology with `backends` backend namespaces (1..=250),
    /// after removing namespaces left with the same prefix.
    pub fn create(prefix: &str, backends: u8) -> Result<LbNet, String> {
        let p = format!("{prefix}{}", std::process::id() % 100_000);
        // The longest interface name is `<p>rb<k>`; Linux allows 15 bytes.
        let longest = format!("{p}rb{backends}");
        if longest.len() > 15 {
            return Err(format!(
                "prefix {prefix:?} too long: interface {longest:?} exceeds 15 bytes"
            ));
        }
        remove_stale(prefix);
        let mut net = LbNet {
            router: format!("{p}r"),
            client: format!("{p}c"),
            lb: format!("{p}l"),
            client_if: format!("{p}c0"),
            lb_if: format!("{p}l0"),
            router_lb_if: format!("{p}rl"),
            router_lb_mac: String::new(),
            lb_mac: String::new(),
            backends: Vec::new(),
            decap: Decap::Ipip,
            prefix: p.clone(),
            keep: false,
        };
        // Registered before anything is created, so a failure half way
        // still removes what exists (Drop).
        net.backends = (1..=backends)
            .map(|k| Backend {
                name: format!("b{k}"),
                ns: format!("{p}b{k}"),
                iface: format!("{p}b{k}"),
                tunnel: format!("{p}t{k}"),
                addr: backend_ip(k),
            })
            .collect();
        for ns in net.namespaces() {
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let r = net.router.clone();
        sysctl(&r, "net.ipv4.ip_forward", "1")?;

        // Client.
        let rc = format!("{p}rc");
        veth(&net.client_if, &net.client, &rc, &r)?;
        let mtu = CLIENT_MTU.to_string();
        ip(&[
            "-n",
            &net.client,
            "link",
            "set",
            &net.client_if,
            "mtu",
            &mtu,
        ])?;
        ip(&["-n", &r, "link", "set", &rc, "mtu", &mtu])?;
        addr_up(&net.client, &net.client_if, &format!("{CLIENT_IP}/24"))?;
        tx_checksum_off(&net.client, &net.client_if)?;
        addr_up(&r, &rc, &format!("{ROUTER_CLIENT_IP}/24"))?;
        #[rustfmt::skip]
        ip(&["-n", &net.client, "route", "add", "default", "via", &ROUTER_CLIENT_IP.to_string()])?;

        // Load balancer.
        veth(&net.lb_if, &net.lb, &net.router_lb_if, &r)?;
        addr_up(&net.lb, &net.lb_if, &format!("{LB_IP}/24"))?;
        addr_up(&r, &net.router_lb_if, &format!("{ROUTER_LB_IP}/24"))?;
        #[rustfmt::skip]
        ip(&["-n", &net.lb, "route", "add", "default", "via", &ROUTER_LB_IP.to_string()])?;
        #[rustfmt::skip]
        ip(&["-n", &r, "route", "add", "10.200.0.0/24", "via", &LB_IP.to_string()])?;
        net.router_lb_mac = mac_of(&r, &net.router_lb_if)?;
        net.lb_mac = mac_of(&net.lb, &net.lb_if)?;

        // Backends.
        let mut router_devs = vec![rc.clone(), net.router_lb_if.clone()];
        for (i, b) in net.backends.clone().iter().enumerate() {
            let k = i + 1;
            let rb = format!("{p}rb{k}");
            veth(&b.iface, &b.ns, &rb, &r)?;
            addr_up(&b.ns, &b.iface, &format!("{}/24", b.addr))?;
            addr_up(&r, &rb, &format!("10.201.{k}.1/24"))?;
            #[rustfmt::skip]
            ip(&["-n", &b.ns, "route", "add", "default", "via", &format!("10.201.{k}.1")])?;
            // A collect-metadata ("external") ipip device receives IPIP
            // from any outer source; the decapsulated packet appears on it
            // and is delivered locally because it holds the VIP. Kernels
            // built without CONFIG_NET_IPIP have no such device: the VIP
            // goes on lo and an XDP program decapsulates
            // ([`LbNet::attach_xdp_decap`]).
            match ip(&[
                "-n", &b.ns, "link", "add", &b.tunnel, "type", "ipip", "external",
            ]) {
                Ok(_) => addr_up(&b.ns, &b.tunnel, &format!("{VIP}/32"))?,
                Err(e) if e.contains("Unknown device type") => {
                    net.decap = Decap::Xdp;
                    ip(&[
                        "-n",
                        &b.ns,
                        "addr",
                        "add",
                        &format!("{VIP}/32"),
                        "dev",
                        "lo",
                    ])?;
                }
                Err(e) => return Err(e),
            }
            // Never answer ARP for the VIP nor use it as an ARP source:
            // only the load balancer's side owns it on a shared link.
            sysctl(&b.ns, "net.ipv4.conf.all.arp_ignore", "1")?;
            sysctl(&b.ns, "net.ipv4.conf.all.arp_announce", "2")?;
            rp_filter_off(&b.ns, &[&b.iface])?;
            if net.decap == Decap::Ipip {
                rp_filter_off(&b.ns, &[&b.tunnel])?;
            }
            router_devs.push(rb);
        }
        let devs: Vec<&str> = router_devs.iter().map(String::as_str).collect();
        rp_filter_off(&r, &devs)?;
        Ok(net)
    }

    /// Attaches the decapsulation program `object` (built from
    /// `apps/lb/bpf/decap.bpf.c`) in kernel mode, generic XDP, to every
    /// backend's veth with the `oxbpf` command `oxbpf`, when the backends
    /// have no ipip device ([`Decap::Xdp`]); nothing otherwise. The pins
    /// (`/sys/fs/bpf/oxbpf/IFACE`) go on drop.
    pub fn attach_xdp_decap(&self, oxbpf: &Path, object: &Path) -> Result<(), String> {
        if self.decap != Decap::Xdp {
            return Ok(());
        }
        for b in &self.backends {
            let _ = std::fs::remove_dir_all(pin_dir(&b.iface));
            let out = Command::new("nsenter")
                .arg(format!("--net=/var/run/netns/{}", b.ns))
                .arg(oxbpf)
                .args(["xdp", "attach", &b.iface])
                .arg(object)
                .args([
                    "--prog",
                    "decap",
                    "--mode",
                    "kernel",
                    "--xdp-mode",
                    "generic",
                ])
                .output()
                .map_err(|e| format!("nsenter {}: {e}", oxbpf.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "attaching the decapsulation program on {}: {}",
                    b.iface,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(())
    }

    /// Every interface of the topology that may carry kernel-mode pins.
    fn pinned_ifaces(&self) -> Vec<String> {
        let mut v = vec![self.lb_if.clone(), self.router_lb_if.clone()];
        v.extend(self.backends.iter().map(|b| b.iface.clone()));
        v
    }

    /// Every namespace of the topology.
    pub fn namespaces(&self) -> Vec<String> {
        let mut v = vec![self.router.clone(), self.client.clone(), self.lb.clone()];
        v.extend(self.backends.iter().map(|b| b.ns.clone()));
        v
    }

    /// Leaves the namespaces in place when dropped (the demo script).
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// Shell `export` lines describing the topology (for scripts).
    pub fn shell_vars(&self) -> String {
        let mut s = String::new();
        for (k, v) in [
            ("LB_PREFIX", &self.prefix),
            ("LB_ROUTER_NS", &self.router),
            ("LB_CLIENT_NS", &self.client),
            ("LB_NS", &self.lb),
            ("LB_CLIENT_IF", &self.client_if),
            ("LB_IF", &self.lb_if),
            ("LB_ROUTER_LB_IF", &self.router_lb_if),
            ("LB_NEXTHOP_MAC", &self.router_lb_mac),
            ("LB_MAC", &self.lb_mac),
        ] {
            s += &format!("export {k}={v}\n");
        }
        let names: Vec<&str> = self.backends.iter().map(|b| b.ns.as_str()).collect();
        let addrs: Vec<String> = self.backends.iter().map(|b| b.addr.to_string()).collect();
        s += &format!("export LB_BACKEND_NS=\"{}\"\n", names.join(" "));
        s += &format!("export LB_BACKEND_IPS=\"{}\"\n", addrs.join(" "));
        s += &format!("export LB_VIP={VIP}\n");
        let decap = if self.decap == Decap::Xdp {
            "xdp"
        } else {
            "ipip"
        };
        s += &format!("export LB_DECAP={decap}\n");
        s
    }
}

impl Drop for LbNet {
    fn drop(&mut self) {
        if !self.keep {
            for ns in self.namespaces() {
                let _ = ip(&["netns", "del", &ns]);
            }
            // Kernel-mode pins live on the bpf filesystem, not in the
            // namespaces: remove them too (`oxbpf xdp attach --mode
            // kernel` and `oxbpf lb run --mode kernel`).
            for dev in self.pinned_ifaces() {
                let _ = std::fs::remove_dir_all(pin_dir(&dev));
                let _ = std::fs::remove_dir_all(Path::new(PIN_ROOT).join("lb").join(&dev));
            }
        }
    }
}

/// What a running [`serve`] counts.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Requests answered.
    pub requests: AtomicU64,
}

fn respond(mut s: TcpStream, name: &str, stats: &ServerStats) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
        if req.len() > 16 * 1024 {
            return Ok(());
        }
    }
    let body = if req.starts_with(b"GET /health") {
        "ok\n".to_string()
    } else {
        format!("backend={name}\n")
    };
    let resp = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes())?;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Serves HTTP/1.0 on `listener` until `stop` is set: every request is
/// answered `backend=NAME` (`GET /health`: `ok`), one thread per
/// connection. The listener is closed when this returns, so a stopped
/// server refuses new connections (a failed health check) while
/// connections already accepted are still answered.
pub fn serve(listener: TcpListener, name: &str, stop: &AtomicBool, stats: Arc<ServerStats>) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    loop {
        // Checked before accepting: after `stop`, the connections already
        // established (waiting in the accept queue) are still taken and
        // answered, and only then the listener closes; closing it with
        // connections queued would reset them.
        let stopping = stop.load(Ordering::Relaxed);
        match listener.accept() {
            Ok((s, _)) => {
                let name = name.to_string();
                let stats = stats.clone();
                std::thread::spawn(move || {
                    let _ = s.set_nonblocking(false);
                    let _ = respond(s, &name, &stats);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stopping {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) if stopping => return,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The body of an HTTP response (after the blank line), or an error.
fn body_of(resp: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(resp);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {text:?}"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!("status: {head:?}"));
    }
    Ok(body.trim().to_string())
}

/// A client connection kept open: connected and the first request line
/// sent; [`LongConn::finish`] completes the request.
#[derive(Debug)]
pub struct LongConn {
    stream: TcpStream,
    /// The client's port (the flow's source port).
    pub local_port: u16,
}

/// Connects to `to` from local port `port` (0: any) with a connect
/// timeout; in the calling thread's network namespace.
pub fn connect_from(port: u16, to: SocketAddrV4, timeout: Duration) -> Result<TcpStream, String> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket(2); ownership passes to the TcpStream below or
    // the fd is closed on error.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is ours; the TcpStream closes it on drop.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let sin = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    if port != 0 {
        let local = sin(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        // SAFETY: a sockaddr_in of the length passed.
        if unsafe { libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) } != 0 {
            return Err(format!("bind :{port}: {}", std::io::Error::last_os_error()));
        }
    }
    // SO_SNDTIMEO bounds a blocking connect(2) (tcp_sendmsg's timeout is
    // the one inet_stream_connect waits with).
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let remote = sin(to);
    // SAFETY: a sockaddr_in of the length passed.
    if unsafe { libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) } != 0 {
        return Err(format!(
            "connect {to} from port {port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(stream)
}

/// The next client port of [`next_port`].
static NEXT_PORT: AtomicU64 = AtomicU64::new(20_000);

/// A client port not used before by this process (20000 up to 60999):
/// the balancer's connection table remembers a flow after it closes, so a
/// reused port would follow the old flow's backend, not the ring.
pub fn next_port() -> Result<u16, String> {
    let p = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    u16::try_from(p)
        .ok()
        .filter(|p| *p <= 60_999)
        .ok_or_else(|| "out of unused client ports".to_string())
}

impl LongConn {
    /// Connects to `to` and sends the start of a request (no blank line,
    /// so the server waits for more).
    pub fn open(to: SocketAddrV4, timeout: Duration) -> Result<LongConn, String> {
        LongConn::open_from(0, to, timeout)
    }

    /// [`LongConn::open`] from local port `port` (0: any).
    pub fn open_from(port: u16, to: SocketAddrV4, timeout: Duration) -> Result<LongConn, String> {
        let mut stream = connect_from(port, to, timeout)?;
        let local_port = stream.local_addr().map_err(|e| e.to_string())?.port();
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n")
            .map_err(|e| format!("port {local_port}: send: {e}"))?;
        Ok(LongConn { stream, local_port })
    }

    /// Completes the request and returns the body (`backend=NAME`).
    pub fn finish(mut self) -> Result<String, String> {
        let port = self.local_port;
        self.stream
            .write_all(b"\r\n")
            .map_err(|e| format!("port {port}: send: {e}"))?;
        let mut resp = Vec::new();
        self.stream
            .read_to_end(&mut resp)
            .map_err(|e| format!("port {port}: receive: {e}"))?;
        body_of(&resp).map_err(|e| format!("port {port}: {e}"))
    }
}

/// One complete request to `to`: the client port and the body.
pub fn request(to: SocketAddrV4, timeout: Duration) -> Result<(u16, String), String> {
    request_from(0, to, timeout)
}

/// [`request`] from local port `port` (0: any).
pub fn request_from(
    port: u16,
    to: SocketAddrV4,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let c = LongConn::open_from(port, to, timeout)?;
    let port = c.local_port;
    Ok((port, c.finish()?))
}

/// The VIP's HTTP address.
pub fn vip_addr() -> SocketAddrV4 {
    SocketAddrV4::new(VIP, 80)
}

/// Binds the HTTP port of a backend (all addresses, so it answers on the
/// VIP and its own address for health checks).
pub fn bind_http(port: u16) -> Result<TcpListener, String> {
    TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
        .map_err(|e| format!("bind :{port}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_making_interface_names_too_long_is_refused_before_anything_is_created() {
        // `<prefix><pid>rb3` must fit IFNAMSIZ - 1 = 15 bytes.
        let e = LbNet::create("much_too_long_prefix", 3).unwrap_err();
        assert!(e.contains("exceeds 15 bytes"), "{e}");
    }

    #[test]
    fn response_bodies_need_a_200_status_and_the_end_of_headers() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nbackend=b2\n";
        assert_eq!(body_of(ok).unwrap(), "backend=b2");
        assert!(body_of(b"HTTP/1.0 503 Busy\r\n\r\nx").is_err());
        assert!(body_of(b"HTTP/1.0 200 OK\r\nbackend=b2").is_err());
    }

    #[test]
    fn client_ports_are_never_handed_out_twice() {
        let a = next_port().unwrap();
        let b = next_port().unwrap();
        assert_ne!(a, b);
        assert!((20_000..=60_999).contains(&a));
    }
}
