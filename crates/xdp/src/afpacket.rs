//! The AF_PACKET fallback: a raw packet socket bound to one interface.
//!
//! Where AF_XDP is unavailable (old kernels, no BPF), oxbpf can still run
//! an XDP program on a copy of every packet an interface receives. What it
//! cannot do: the kernel's stack receives every packet too, whatever the
//! verdict (`XDP_DROP` does not stop it), and it sees packets later (after
//! the driver built an skb). `XDP_TX` sends the rewritten packet out of the
//! interface. Our own transmissions are not seen again
//! (`PACKET_IGNORE_OUTGOING`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Result, XdpError};
use crate::xsk::ifindex;

/// `ETH_P_ALL` in network order, as `socket(2)` and `sockaddr_ll` want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// A raw packet socket on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    iface: String,
}

impl PacketSocket {
    /// Opens a socket receiving every packet of `iface` (incoming only).
    pub fn open(iface: &str) -> Result<PacketSocket> {
        let index = ifindex(iface)?;
        // SAFETY: plain socket(2) call.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL_BE),
            )
        };
        if raw < 0 {
            return Err(XdpError::last_os("create AF_PACKET socket", iface));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // SAFETY: an int option of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(XdpError::last_os("ignore outgoing packets", iface));
        }
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = ETH_P_ALL_BE;
        sa.sll_ifindex = index as i32;
        // SAFETY: a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(XdpError::last_os("bind AF_PACKET socket", iface));
        }
        Ok(PacketSocket {
            fd,
            ifindex: index,
            iface: iface.to_string(),
        })
    }

    /// A socket that only sends, out of the interface with index
    /// `ifindex` (a redirect target).
    pub fn sender(ifindex: u32) -> Result<PacketSocket> {
        let name = format!("ifindex {ifindex}");
        // SAFETY: plain socket(2) call; protocol 0: receives nothing.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(XdpError::last_os("create AF_PACKET socket", name));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = ifindex as i32;
        // SAFETY: a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(XdpError::last_os("bind AF_PACKET socket", name));
        }
        Ok(PacketSocket {
            fd,
            ifindex,
            iface: name,
        })
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Receives one packet into `buf`, waiting up to `timeout_ms`;
    /// `Ok(None)` on timeout.
    pub fn recv(&mut self, buf: &mut [u8], timeout_ms: i32) -> Result<Option<usize>> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, timeout_ms) } <= 0 {
            return Ok(None);
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(XdpError::Sys {
                what: "receive on AF_PACKET socket",
                iface: self.iface.clone(),
                source: e,
            });
        }
        Ok(Some(n as usize))
    }

    /// Sends a whole Ethernet frame out of the interface.
    pub fn send(&mut self, frame: &[u8]) -> Result<()> {
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(XdpError::last_os(
                "send on AF_PACKET socket",
                self.iface.clone(),
            ));
        }
        Ok(())
    }
}
