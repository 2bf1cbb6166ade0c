//! Errors of the kernel backend: which `bpf(2)` command failed, with which
//! errno, and for loads the kernel's own log.

use core::fmt;
use std::path::PathBuf;

/// A `bpf(2)` command (`enum bpf_cmd` of the uapi `linux/bpf.h`), or one of
/// the few other system calls the backend makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    MapCreate,
    MapLookupElem,
    MapUpdateElem,
    MapDeleteElem,
    MapGetNextKey,
    MapFreeze,
    ProgLoad,
    ObjPin,
    ObjGet,
    ProgTestRun,
    ObjGetInfoByFd,
    BtfLoad,
    BtfGetFdById,
    LinkCreate,
}

impl Command {
    /// The command's number in `enum bpf_cmd`.
    pub const fn number(self) -> u32 {
        match self {
            Command::MapCreate => 0,
            Command::MapLookupElem => 1,
            Command::MapUpdateElem => 2,
            Command::MapDeleteElem => 3,
            Command::MapGetNextKey => 4,
            Command::MapFreeze => 22,
            Command::ProgLoad => 5,
            Command::ObjPin => 6,
            Command::ObjGet => 7,
            Command::ProgTestRun => 10,
            Command::ObjGetInfoByFd => 15,
            Command::BtfLoad => 18,
            Command::BtfGetFdById => 19,
            Command::LinkCreate => 28,
        }
    }

    /// The uapi name (`BPF_MAP_CREATE`).
    pub const fn name(self) -> &'static str {
        match self {
            Command::MapCreate => "BPF_MAP_CREATE",
            Command::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Command::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Command::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Command::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Command::MapFreeze => "BPF_MAP_FREEZE",
            Command::ProgLoad => "BPF_PROG_LOAD",
            Command::ObjPin => "BPF_OBJ_PIN",
            Command::ObjGet => "BPF_OBJ_GET",
            Command::ProgTestRun => "BPF_PROG_TEST_RUN",
            Command::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Command::BtfLoad => "BPF_BTF_LOAD",
            Command::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Command::LinkCreate => "BPF_LINK_CREATE",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `errno` value, printed with its symbolic name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// `errno` of the calling thread, as left by the last failed call.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name and a short description, for the errnos `bpf(2)`
    /// documents (and the kernel-internal `ENOTSUPP`, 524, which leaks out
    /// of some BPF paths).
    fn describe(self) -> (&'static str, &'static str) {
        match self.0 {
            libc::EPERM => ("EPERM", "operation not permitted"),
            libc::ENOENT => ("ENOENT", "no such entry"),
            libc::EINTR => ("EINTR", "interrupted"),
            libc::E2BIG => ("E2BIG", "argument too big"),
            libc::EBADF => ("EBADF", "bad file descriptor"),
            libc::EAGAIN => ("EAGAIN", "try again"),
            libc::ENOMEM => ("ENOMEM", "out of memory"),
            libc::EACCES => ("EACCES", "permission denied"),
            libc::EFAULT => ("EFAULT", "bad address"),
            libc::EBUSY => ("EBUSY", "busy"),
            libc::EEXIST => ("EEXIST", "already exists"),
            libc::ENODEV => ("ENODEV", "no such device"),
            libc::ENOTDIR => ("ENOTDIR", "not a directory"),
            libc::EINVAL => ("EINVAL", "invalid argument"),
            libc::ENOSPC => ("ENOSPC", "no space left (buffer too small)"),
            libc::ERANGE => ("ERANGE", "out of range"),
            libc::ENOSYS => ("ENOSYS", "system call not implemented"),
            libc::ELOOP => ("ELOOP", "too many levels of links"),
            libc::EOPNOTSUPP => ("EOPNOTSUPP", "operation not supported"),
            524 => ("ENOTSUPP", "operation not supported by the kernel"),
            _ => ("errno", "unknown error"),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, text) = self.describe();
        if name == "errno" {
            write!(f, "errno {} ({text})", self.0)
        } else {
            write!(f, "{name} ({text})")
        }
    }
}

/// Why a kernel operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A `bpf(2)` command failed.
    #[error("bpf({command}): {errno}")]
    Syscall { command: Command, errno: Errno },
    /// The caller lacks the privileges `bpf(2)` needs.
    #[error(
        "bpf({command}): {errno}: needs root, or CAP_BPF (plus CAP_NET_ADMIN for network \
         programs and CAP_PERFMON for pointer arithmetic); kernels before 5.11 also need a \
         high RLIMIT_MEMLOCK"
    )]
    NotPermitted { command: Command, errno: Errno },
    /// `EPERM` although the process runs as root: root without the
    /// capabilities in its user namespace, kernel lockdown, or a request
    /// the kernel refuses for what it is (a tracing program without its
    /// attach target, say).
    #[error(
        "bpf({command}): EPERM although running as root: missing CAP_BPF/CAP_SYS_ADMIN in \
         this user namespace, kernel lockdown, or a request the kernel refuses (tracing \
         programs need an attach target)"
    )]
    RefusedAsRoot { command: Command },
    /// The kernel has no `bpf(2)`.
    #[error(
        "bpf({command}): ENOSYS: this kernel has no bpf(2) system call (it needs \
         CONFIG_BPF_SYSCALL, and no seccomp filter that forbids bpf)"
    )]
    NoBpf { command: Command },
    /// `BPF_PROG_LOAD` failed; `log` is the verifier's log (empty if the
    /// kernel wrote none).
    #[error(
        "bpf(BPF_PROG_LOAD) of program {name:?}: {errno}: the kernel rejected it; verifier log:\n{log}"
    )]
    Verifier {
        name: String,
        errno: Errno,
        log: String,
    },
    /// `BPF_BTF_LOAD` failed; `log` is the kernel's BTF log.
    #[error("bpf(BPF_BTF_LOAD): {errno}: the kernel rejected the BTF; log:\n{log}")]
    Btf { errno: Errno, log: String },
    /// A buffer does not have the size the kernel object needs.
    #[error("bpf({command}): {what} is {found} bytes, expected {expected}")]
    Size {
        command: Command,
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// A file-system operation on a bpffs path failed.
    #[error("{op} {path}: {errno}")]
    Path {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    /// An argument cannot be passed to the kernel at all.
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// A program ran but did not leave the state the backend expects (for
    /// example the return-value epilogue did not run).
    #[error("{what}: expected {expected}, found {found}")]
    Unexpected {
        what: &'static str,
        expected: u64,
        found: u64,
    },
}

impl KernelError {
    /// The error for `command` failing with `errno`, choosing the
    /// privilege and missing-syscall variants where they apply.
    ///
    /// On an element command `EPERM` is not about privileges (the caller
    /// already holds the map's fd) but about the map: it is frozen, or
    /// read-only to the syscall side (`BPF_F_RDONLY`).
    pub fn from_errno(command: Command, errno: Errno) -> KernelError {
        let element = matches!(
            command,
            Command::MapLookupElem
                | Command::MapUpdateElem
                | Command::MapDeleteElem
                | Command::MapGetNextKey
        );
        match errno.0 {
            libc::EPERM if element => KernelError::Syscall { command, errno },
            libc::EPERM if crate::sys::euid() == 0 => KernelError::RefusedAsRoot { command },
            libc::EPERM => KernelError::NotPermitted { command, errno },
            libc::ENOSYS => KernelError::NoBpf { command },
            _ => KernelError::Syscall { command, errno },
        }
    }

    /// The errno, if the error came from a system call.
    pub fn errno(&self) -> Option<Errno> {
        match *self {
            KernelError::Syscall { errno, .. }
            | KernelError::NotPermitted { errno, .. }
            | KernelError::Verifier { errno, .. }
            | KernelError::Btf { errno, .. }
            | KernelError::Path { errno, .. } => Some(errno),
            KernelError::NoBpf { .. } => Some(Errno(libc::ENOSYS)),
            KernelError::RefusedAsRoot { .. } => Some(Errno(libc::EPERM)),
            _ => None,
        }
    }

    /// Whether the error means "this environment cannot use bpf(2) at all"
    /// (no privileges, no syscall), as opposed to a refused request.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            KernelError::NotPermitted { .. }
                | KernelError::NoBpf { .. }
                | KernelError::RefusedAsRoot { .. }
        )
    }
}

/// Result alias of this crate.
pub type Result<T, E = KernelError> = core::result::Result<T, E>;
