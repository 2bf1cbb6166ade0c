//! BTF loaded into the kernel (`BPF_BTF_LOAD`), which typed maps and
//! programs with func/line info refer to by fd.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::Result;
use crate::sys;

/// BTF held by the kernel.
#[derive(Debug)]
pub struct KernelBtf {
    fd: OwnedFd,
}

impl KernelBtf {
    /// Loads raw BTF (header, types, strings, as in an object's `.BTF`
    /// section). A rejection is [`crate::KernelError::Btf`] with the
    /// kernel's log.
    pub fn load(bytes: &[u8]) -> Result<KernelBtf> {
        Ok(KernelBtf {
            fd: sys::btf_load(bytes)?,
        })
    }
}

impl AsFd for KernelBtf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
