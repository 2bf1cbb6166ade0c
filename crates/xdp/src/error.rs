//! Errors of the packet I/O layer.

use std::io;

/// What went wrong setting up or driving a packet source.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// A system call failed.
    #[error("{what} on {iface}: {source}")]
    Sys {
        /// The operation, e.g. "bind AF_XDP socket".
        what: &'static str,
        /// The interface (and queue) concerned.
        iface: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The interface does not exist.
    #[error("no network interface named {0:?}")]
    NoInterface(String),
    /// A parameter is out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The parameter.
        what: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The kernel refused the steering program or its maps.
    #[error("steering program on {iface}: {source}")]
    Steering {
        /// The interface.
        iface: String,
        /// The kernel's error (with the verifier log when it refused the program).
        #[source]
        source: oxbpf_kernel::KernelError,
    },
}

impl XdpError {
    /// A failed system call, with `errno` read now.
    pub(crate) fn last_os(what: &'static str, iface: impl Into<String>) -> XdpError {
        XdpError::Sys {
            what,
            iface: iface.into(),
            source: io::Error::last_os_error(),
        }
    }
}

/// Shorthand.
pub type Result<T, E = XdpError> = std::result::Result<T, E>;
