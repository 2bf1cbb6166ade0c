//! Attachments through `bpf_link` (`BPF_LINK_CREATE`): the program stays
//! attached while the link fd or a pin of it lives, and detaches when the
//! last one goes away; no netlink needed.
//!
//! - XDP: [`XdpLink`] (Linux 5.9+), generic or native.
//! - tc: [`TcxLink`] (Linux 6.6+), the `tcx` hooks that replace a `clsact`
//!   qdisc with filters; no qdisc has to be created or removed.

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
/// `BPF_LINK_TYPE_TCX`.
pub const LINK_TYPE_TCX: u32 = 11;

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

/// Which tc hook of an interface (`BPF_TCX_INGRESS` / `BPF_TCX_EGRESS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcDirection {
    Ingress,
    Egress,
}

impl TcDirection {
    /// The attach type (`enum bpf_attach_type`).
    pub const fn attach_type(self) -> u32 {
        match self {
            TcDirection::Ingress => attach_type::TCX_INGRESS,
            TcDirection::Egress => attach_type::TCX_EGRESS,
        }
    }
}

/// A tc (`SCHED_CLS`) program attached to an interface's tcx hook. Several
/// links can share a hook; new ones run after the existing ones.
#[derive(Debug)]
pub struct TcxLink {
    fd: OwnedFd,
    ifindex: u32,
    direction: TcDirection,
}

impl TcxLink {
    /// Attaches `prog` (a `SCHED_CLS` program) to the interface with index
    /// `ifindex`, after the programs already there.
    pub fn attach(prog: &KernelProgram, ifindex: u32, direction: TcDirection) -> Result<TcxLink> {
        let fd = sys::link_create(prog.as_fd(), ifindex, direction.attach_type(), 0)?;
        Ok(TcxLink {
            fd,
            ifindex,
            direction,
        })
    }

    /// Attaches to the interface called `iface`.
    pub fn attach_to(prog: &KernelProgram, iface: &str, direction: TcDirection) -> Result<TcxLink> {
        TcxLink::attach(prog, sys::if_nametoindex(iface)?, direction)
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The hook.
    pub fn direction(&self) -> TcDirection {
        self.direction
    }

    /// The kernel's view of the link (for tcx, union words 0 and 1 are the
    /// interface index and the attach type).
    pub fn info(&self) -> Result<BpfLinkInfo> {
        Ok(sys::obj_get_info::<BpfLinkInfo>(self.as_fd())?.0)
    }

    /// Pins the link so the attachment outlives this process.
    pub fn pin(&self, path: &Path) -> Result<()> {
        crate::pin::pin(self.as_fd(), path)
    }
}

impl AsFd for TcxLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
