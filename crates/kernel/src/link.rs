//! Attachments through `bpf_link` (`BPF_LINK_CREATE`): the program stays
//! attached while the link fd or a pin of it lives, and detaches when the
//! last one goes away; no netlink needed.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::Result;
use crate::prog::{KernelProgram, attach_type};
use crate::sys::{self, attr::BpfLinkInfo};

/// Where an XDP program runs (`XDP_FLAGS_*` of `linux/if_link.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// Let the kernel choose: native if the driver supports it, else
    /// generic.
    Auto,
    /// Generic XDP (`XDP_FLAGS_SKB_MODE`): after skb allocation, works on
    /// every device.
    Generic,
    /// Native XDP (`XDP_FLAGS_DRV_MODE`): in the driver, before skb
    /// allocation.
    Native,
}

impl XdpMode {
    /// The `XDP_FLAGS_*` value passed as link flags.
    pub const fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Generic => 1 << 1,
            XdpMode::Native => 1 << 2,
        }
    }
}

/// `BPF_LINK_TYPE_XDP`.
pub const LINK_TYPE_XDP: u32 = 6;

/// An XDP program attached to an interface through a link.
#[derive(Debug)]
pub struct XdpLink {
    fd: OwnedFd,
    ifindex: u32,
    mode: XdpMode,
}

impl XdpLink {
    /// Attaches `prog` (loaded with expected attach type `BPF_XDP`) to the
    /// interface with index `ifindex`.
    pub fn attach(prog: &KernelProgram, ifindex: u32, mode: XdpMode) -> Result<XdpLink> {
        let fd = sys::link_create(prog.as_fd(), ifindex, attach_type::XDP, mode.flags())?;
        Ok(XdpLink { fd, ifindex, mode })
    }

    /// Attaches to the interface called `iface`.
    pub fn attach_to(prog: &KernelProgram, iface: &str, mode: XdpMode) -> Result<XdpLink> {
        XdpLink::attach(prog, sys::if_nametoindex(iface)?, mode)
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The mode it was attached in.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// The kernel's view of the link.
    pub fn info(&self) -> Result<BpfLinkInfo> {
        Ok(sys::obj_get_info::<BpfLinkInfo>(self.as_fd())?.0)
    }

    /// Pins the link so the attachment outlives this process.
    pub fn pin(&self, path: &Path) -> Result<()> {
        crate::pin::pin(self.as_fd(), path)
    }
}

impl AsFd for XdpLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
