//! A TAP device through which `XDP_PASS` packets reach the kernel's stack.
//!
//! An AF_XDP socket takes packets away from the kernel; a packet the
//! program passes has to be given back. Writing it to a TAP device makes
//! the kernel receive it as if it had arrived on that device: local
//! delivery works for any of the host's addresses (Linux accepts packets
//! for a local address on any interface), and replies leave by the normal
//! routes, out of the real interface. For that to work reverse-path
//! filtering must not drop the packet (`rp_filter` 0 or 2 on the tap), which
//! [`Tap::create`] sets.
//!
//! The device is not persistent: it disappears when the [`Tap`] is dropped
//! or the process dies.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Result, XdpError};

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// A TAP device, up, removed on drop.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

fn ifreq(name: &str) -> Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(XdpError::Invalid {
            what: "tap device name",
            reason: format!("{name:?} must have 1 to {} bytes", libc::IFNAMSIZ - 1),
        });
    }
    // SAFETY: all-zero is a valid ifreq.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(req)
}

impl Tap {
    /// Creates the TAP device `name` and brings it up.
    pub fn create(name: &str) -> Result<Tap> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|source| XdpError::Sys {
                what: "open /dev/net/tun",
                iface: name.to_string(),
                source,
            })?;
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
        // SAFETY: TUNSETIFF reads and writes an ifreq we own.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            return Err(XdpError::last_os("create tap device", name));
        }
        let tap = Tap {
            file,
            name: name.to_string(),
        };
        tap.set_up()?;
        // Loose reverse-path filtering: the tap carries packets from
        // sources routed through another interface.
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"), "0");
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/accept_local"), "1");
        Ok(tap)
    }

    fn set_up(&self) -> Result<()> {
        // SAFETY: plain socket(2) call, for the interface ioctls.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(XdpError::last_os(
                "create control socket",
                self.name.clone(),
            ));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = ifreq(&self.name)?;
        // SAFETY: SIOCGIFFLAGS writes the flags into our ifreq.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
            return Err(XdpError::last_os("read tap flags", self.name.clone()));
        }
        // SAFETY: the kernel filled `ifru_flags` above.
        unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads our ifreq.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
            return Err(XdpError::last_os("bring tap up", self.name.clone()));
        }
        Ok(())
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands one Ethernet frame to the kernel's stack.
    pub fn write(&self, frame: &[u8]) -> Result<()> {
        (&self.file)
            .write_all(frame)
            .map_err(|source| XdpError::Sys {
                what: "write to tap device",
                iface: self.name.clone(),
                source,
            })
    }
}
