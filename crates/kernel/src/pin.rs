//! Pinning to the bpf filesystem: objects outlive the process that loaded
//! them as long as a pin (a file on bpffs) refers to them.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use crate::error::{Errno, KernelError, Result};
use crate::sys;

/// Where bpffs is mounted by convention.
pub const BPFFS: &str = "/sys/fs/bpf";

/// Makes sure `/sys/fs/bpf` is a bpf filesystem, mounting one if it is not
/// (as systemd does at boot; containers often lack it).
pub fn ensure_bpffs() -> Result<PathBuf> {
    let root = PathBuf::from(BPFFS);
    if sys::fs_magic(&root)? != sys::BPF_FS_MAGIC {
        sys::mount_bpffs(&root)?;
        let magic = sys::fs_magic(&root)?;
        if magic != sys::BPF_FS_MAGIC {
            return Err(KernelError::Unexpected {
                what: "statfs f_type of /sys/fs/bpf after mounting bpffs",
                expected: sys::BPF_FS_MAGIC as u64,
                found: magic as u64,
            });
        }
    }
    Ok(root)
}

/// Whether `path`'s directory is on a bpf filesystem.
fn check_on_bpffs(dir: &Path) -> Result<()> {
    let magic = sys::fs_magic(dir)?;
    if magic != sys::BPF_FS_MAGIC {
        return Err(KernelError::Invalid {
            what: "pin path",
            reason: format!(
                "{} is not on a bpf filesystem (mount one with `mount -t bpf bpf DIR`)",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// Pins `fd` at `path`, creating missing parent directories. Paths under
/// `/sys/fs/bpf` get bpffs mounted first if needed; other paths must
/// already be on a bpffs.
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    if path.starts_with(BPFFS) {
        ensure_bpffs()?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| KernelError::Path {
            op: "create pin directory",
            path: dir.to_path_buf(),
            errno: Errno(e.raw_os_error().unwrap_or(0)),
        })?;
        check_on_bpffs(dir)?;
    }
    sys::obj_pin(fd, path)
}

/// Removes the pin at `path` (the object lives on while fds or other pins
/// refer to it). `Ok(false)` if nothing was pinned there.
pub fn unpin(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(KernelError::Path {
            op: "unpin",
            path: path.to_path_buf(),
            errno: Errno(e.raw_os_error().unwrap_or(0)),
        }),
    }
}
