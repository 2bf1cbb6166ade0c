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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Result, XdpError};

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const NEEDS_CSUM: u8 = 1;

/// The `struct virtio_net_hdr` (no GSO) for a frame: for TCP and UDP over
/// IPv4 or IPv6, `NEEDS_CSUM` with the transport header's offset and its
/// checksum field, so the kernel takes the checksum as the sender's
/// business (`CHECKSUM_PARTIAL`, as on a veth) instead of verifying a
/// field that veth senders leave as a partial sum.
fn vnet_hdr(frame: &[u8]) -> [u8; 10] {
    let mut h = [0u8; 10];
    let l4 = match frame.get(12..14) {
        Some([0x08, 0x00]) => frame
            .get(14)
            .map(|v| (14 + usize::from(v & 0xf) * 4, frame.get(23).copied())),
        Some([0x86, 0xdd]) => Some((54, frame.get(20).copied())),
        _ => None,
    };
    let field = match l4 {
        Some((start, Some(6))) => Some((start, 16u16)),
        Some((start, Some(17))) => Some((start, 6u16)),
        _ => None,
    };
    if let Some((start, off)) = field
        && frame.len() >= start + usize::from(off) + 2
    {
        h[0] = NEEDS_CSUM;
        h[6..8].copy_from_slice(&(start as u16).to_le_bytes());
        h[8..10].copy_from_slice(&off.to_le_bytes());
    }
    h
}
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
    /// Creates the TAP device `name` with the hardware address `mac` (the
    /// real interface's, so frames addressed to it are for this host) and
    /// brings it up.
    pub fn create(name: &str, mac: [u8; 6]) -> Result<Tap> {
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
        req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        // SAFETY: TUNSETIFF reads and writes an ifreq we own.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            return Err(XdpError::last_os("create tap device", name));
        }
        let tap = Tap {
            file,
            name: name.to_string(),
        };
        tap.set_mac(mac)?;
        tap.set_up()?;
        // Loose reverse-path filtering: the tap carries packets from
        // sources routed through another interface.
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter"), "0");
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{name}/accept_local"), "1");
        Ok(tap)
    }

    fn control_socket(&self) -> Result<OwnedFd> {
        // SAFETY: plain socket(2) call, for the interface ioctls.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(XdpError::last_os(
                "create control socket",
                self.name.clone(),
            ));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    fn set_mac(&self, mac: [u8; 6]) -> Result<()> {
        let sock = self.control_socket()?;
        let mut req = ifreq(&self.name)?;
        // SAFETY: writing the sockaddr member of the union we own.
        unsafe {
            req.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
            for (d, s) in req.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
                *d = s as libc::c_char;
            }
        }
        // SAFETY: SIOCSIFHWADDR reads our ifreq.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFHWADDR, &req) } < 0 {
            return Err(XdpError::last_os(
                "set tap hardware address",
                self.name.clone(),
            ));
        }
        Ok(())
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

    /// The hardware address of interface `iface` (`SIOCGIFHWADDR` in the
    /// calling thread's network namespace; sysfs would show the mounting
    /// process's namespace instead).
    pub fn mac_of(iface: &str) -> Result<[u8; 6]> {
        // SAFETY: plain socket(2) call, for the interface ioctl.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(XdpError::last_os("create control socket", iface));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = ifreq(iface)?;
        // SAFETY: SIOCGIFHWADDR writes the address into our ifreq.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
            return Err(XdpError::last_os("read hardware address", iface));
        }
        // SAFETY: the kernel filled the hwaddr member.
        let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
        Ok(core::array::from_fn(|i| data[i] as u8))
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands one Ethernet frame to the kernel's stack. TCP and UDP
    /// checksums are not verified again (see [`vnet_hdr`]): the frame came
    /// from the interface, whose driver or sender vouched for them.
    pub fn write(&self, frame: &[u8]) -> Result<()> {
        let hdr = vnet_hdr(frame);
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        // SAFETY: both iovecs point at readable memory of their length;
        // writev only reads them.
        let n = unsafe { libc::writev(self.file.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            return Err(XdpError::last_os("write to tap device", self.name.clone()));
        }
        Ok(())
    }
}
