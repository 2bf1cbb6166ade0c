//! The one seam between oxbpf's kernel backend and the operating system
//! (STYLE.md rule 11): every `bpf(2)` call, and the few other system calls
//! the backend needs (`statfs`, `mount`, `unshare`), go through here.
//!
//! The wrappers are thin (one command each, the kernel's argument
//! structure filled from Rust values) and safe: the only way to make the
//! kernel write into process memory is through a buffer whose size the
//! wrapper checked against what the command writes. Map element commands
//! therefore take a [`MapFd`], which knows the key and value sizes the
//! kernel transfers for that map; everything else takes slices whose
//! lengths go into the attribute. All file descriptors are [`OwnedFd`]s
//! (closed on drop) or [`BorrowedFd`]s.
//!
//! Attribute layouts are in [`attr`]; their offsets are tested against the
//! uapi header.

pub mod attr;

use core::mem::size_of;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use oxbpf_abi::map_kind::MapKind;

use crate::error::{Command, Errno, KernelError, Result};
use attr::*;

/// `BPF_FS_MAGIC`: `statfs.f_type` of a bpf filesystem.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Calls `bpf(cmd, attr, sizeof(*attr))`, retrying when a signal
/// interrupted it (`EINTR`: the kernel aborts long verifications and test
/// runs when a signal is pending, and they can simply be restarted).
///
/// # Safety
///
/// `T` is the [`attr`] struct of `cmd`, and every pointer field of `attr`
/// is zero or points to memory valid for the reads and writes `cmd`
/// performs with the sizes stated in `attr`.
unsafe fn bpf<T>(cmd: Command, attr: &mut T) -> core::result::Result<i64, Errno> {
    loop {
        // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct
        // of `size_of::<T>()` bytes; the kernel reads at most that many
        // bytes and writes only output fields inside it. Pointers inside it
        // are valid by this function's contract.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd.number() as libc::c_long,
                attr as *mut T as *mut libc::c_void,
                size_of::<T>() as libc::c_uint,
            )
        };
        if ret >= 0 {
            return Ok(ret);
        }
        let errno = Errno::last();
        if errno.0 != libc::EINTR {
            return Err(errno);
        }
    }
}

/// Wraps the file descriptor a successful `bpf(2)` command returned.
fn owned_fd(ret: i64) -> OwnedFd {
    // SAFETY: the commands passed here (MAP_CREATE, PROG_LOAD, OBJ_GET,
    // BTF_LOAD, LINK_CREATE) return a new file descriptor that nothing else
    // owns; from here on the OwnedFd closes it exactly once.
    unsafe { OwnedFd::from_raw_fd(ret as RawFd) }
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

fn ptr(bytes: &[u8]) -> u64 {
    if bytes.is_empty() {
        0
    } else {
        bytes.as_ptr() as u64
    }
}

fn ptr_mut(bytes: &mut [u8]) -> u64 {
    if bytes.is_empty() {
        0
    } else {
        bytes.as_mut_ptr() as u64
    }
}

/// Copies `name` into a `BPF_OBJ_NAME_LEN` buffer, keeping the characters
/// the kernel accepts in object names (`bpf_obj_name_cpy`: alphanumerics,
/// `_` and `.`) and truncating to 15 bytes so the NUL fits.
pub fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    let valid = name
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    for (slot, b) in out[..OBJ_NAME_LEN - 1].iter_mut().zip(valid) {
        *slot = b;
    }
    out
}

/// The name stored in a `BPF_OBJ_NAME_LEN` buffer.
pub fn name_from(buf: &[u8; OBJ_NAME_LEN]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

// --- maps -----------------------------------------------------------------

/// A map file descriptor with the sizes the element commands transfer, so
/// that lookups can never make the kernel write past a buffer.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    map_type: u32,
    key_size: usize,
    value_size: usize,
}

impl MapFd {
    /// Takes ownership of a map fd, asking the kernel for its type and
    /// sizes (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn from_fd(fd: OwnedFd) -> Result<MapFd> {
        expect_fd_kind(fd.as_fd(), FdKind::Map)?;
        let (info, _) = obj_get_info::<BpfMapInfo>(fd.as_fd())?;
        MapFd::new(fd, info.map_type, info.key_size, info.value_size)
    }

    fn new(fd: OwnedFd, map_type: u32, key_size: u32, value_size: u32) -> Result<MapFd> {
        Ok(MapFd {
            fd,
            map_type,
            key_size: key_size as usize,
            value_size: syscall_value_size(map_type, value_size)?,
        })
    }

    /// The kernel's map type number.
    pub fn map_type(&self) -> u32 {
        self.map_type
    }

    /// Bytes of a key.
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// Bytes of a value as the element commands transfer it: for per-CPU
    /// maps, one 8-byte-aligned slot per possible CPU.
    pub fn syscall_value_size(&self) -> usize {
        self.value_size
    }

    /// Consumes the handle, returning the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The value size a map element command transfers, as the kernel's
/// `bpf_map_value_size` computes it: per-CPU maps carry
/// `round_up(value_size, 8)` bytes for every possible CPU.
fn syscall_value_size(map_type: u32, value_size: u32) -> Result<usize> {
    let percpu = MapKind::from_u32(map_type).is_some_and(MapKind::is_percpu);
    if percpu {
        Ok((value_size as usize).div_ceil(8) * 8 * possible_cpus()?)
    } else {
        Ok(value_size as usize)
    }
}

/// `BPF_MAP_CREATE`. The attribute carries no pointers.
pub fn map_create(mut attr: MapCreateAttr) -> Result<MapFd> {
    // SAFETY: MapCreateAttr holds no pointers.
    let ret = unsafe { bpf(Command::MapCreate, &mut attr) }
        .map_err(|e| KernelError::from_errno(Command::MapCreate, e))?;
    MapFd::new(owned_fd(ret), attr.map_type, attr.key_size, attr.value_size)
}

fn check_len(command: Command, what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(KernelError::Size {
            command,
            what,
            expected,
            found,
        })
    }
}

fn elem_attr(map: &MapFd, key: &[u8], value: u64, flags: u64) -> MapElemAttr {
    MapElemAttr {
        map_fd: fd_u32(map.as_fd()),
        _pad: 0,
        key: ptr(key),
        value,
        flags,
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` into `value`.
/// `Ok(false)` if the key has no element (`ENOENT`).
pub fn map_lookup_elem(map: &MapFd, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
    let cmd = Command::MapLookupElem;
    check_len(cmd, "key", map.key_size, key.len())?;
    check_len(cmd, "value", map.value_size, value.len())?;
    let mut attr = elem_attr(map, key, ptr_mut(value), flags);
    // SAFETY: `key` holds key_size readable bytes and `value` holds the
    // value_size writable bytes the kernel copies out for this map.
    match unsafe { bpf(cmd, &mut attr) } {
        Ok(_) => Ok(true),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(e) => Err(KernelError::from_errno(cmd, e)),
    }
}

/// `BPF_MAP_UPDATE_ELEM` with `flags` (`oxbpf_abi::map_kind::update`).
pub fn map_update_elem(map: &MapFd, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
    let cmd = Command::MapUpdateElem;
    check_len(cmd, "key", map.key_size, key.len())?;
    check_len(cmd, "value", map.value_size, value.len())?;
    let mut attr = elem_attr(map, key, ptr(value), flags);
    // SAFETY: the kernel only reads key_size bytes of `key` and value_size
    // bytes of `value`, which both hold.
    unsafe { bpf(cmd, &mut attr) }.map_err(|e| KernelError::from_errno(cmd, e))?;
    Ok(())
}

/// `BPF_MAP_DELETE_ELEM`. `Ok(false)` if the key had no element.
pub fn map_delete_elem(map: &MapFd, key: &[u8]) -> Result<bool> {
    let cmd = Command::MapDeleteElem;
    check_len(cmd, "key", map.key_size, key.len())?;
    let mut attr = elem_attr(map, key, 0, 0);
    // SAFETY: the kernel only reads key_size bytes of `key`.
    match unsafe { bpf(cmd, &mut attr) } {
        Ok(_) => Ok(true),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(e) => Err(KernelError::from_errno(cmd, e)),
    }
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key for `None`)
/// into `next`. `Ok(false)` at the end of the map.
pub fn map_get_next_key(map: &MapFd, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
    let cmd = Command::MapGetNextKey;
    if let Some(key) = key {
        check_len(cmd, "key", map.key_size, key.len())?;
    }
    check_len(cmd, "next key", map.key_size, next.len())?;
    let mut attr = elem_attr(map, key.unwrap_or(&[]), ptr_mut(next), 0);
    // SAFETY: `key` (if any) holds key_size readable bytes and `next`
    // key_size writable bytes, all the kernel touches.
    match unsafe { bpf(cmd, &mut attr) } {
        Ok(_) => Ok(true),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(e) => Err(KernelError::from_errno(cmd, e)),
    }
}

/// `BPF_MAP_FREEZE`: from now on the syscall side can no longer write the
/// map (programs still can unless it was created `BPF_F_RDONLY_PROG`);
/// how `.rodata` becomes constant for the verifier.
pub fn map_freeze(map: &MapFd) -> Result<()> {
    let mut attr = MapElemAttr {
        map_fd: fd_u32(map.as_fd()),
        ..MapElemAttr::default()
    };
    // SAFETY: BPF_MAP_FREEZE reads only map_fd; the pointer fields are 0.
    unsafe { bpf(Command::MapFreeze, &mut attr) }
        .map_err(|e| KernelError::from_errno(Command::MapFreeze, e))?;
    Ok(())
}

// --- programs -------------------------------------------------------------

/// Arguments of `BPF_PROG_LOAD` that oxbpf sets.
#[derive(Clone, Debug)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `enum bpf_attach_type` the program will be attached with.
    pub expected_attach_type: u32,
    /// Instructions, 8 bytes each (`struct bpf_insn`).
    pub insns: &'a [u8],
    /// The license string (`"GPL"` unlocks GPL-only helpers).
    pub license: &'a CStr,
    /// The program's name (see [`obj_name`]).
    pub name: &'a str,
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// `kern_version` (checked by old kernels for kprobes only).
    pub kern_version: u32,
    /// BTF of the program (func and line info refer to it).
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// `struct bpf_func_info` records (`func_info_rec_size` bytes each).
    pub func_info: &'a [u8],
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records (`line_info_rec_size` bytes each).
    pub line_info: &'a [u8],
    pub line_info_rec_size: u32,
    /// Verifier log level: 0 asks for a log only if the load fails; 1 and
    /// 2 (`BPF_LOG_LEVEL1`/`2`) always capture one.
    pub log_level: u32,
}

/// A loaded program and the verifier log it produced (empty unless a log
/// was asked for).
#[derive(Debug)]
pub struct Loaded {
    pub fd: OwnedFd,
    pub log: String,
}

/// First verifier log buffer; it grows until the log fits.
const LOG_START: usize = 64 * 1024;
/// Largest log buffer for a log the caller asked for: the kernel's limit
/// before Linux 6.4 (`UINT_MAX >> 8`).
const LOG_MAX: usize = 16 * 1024 * 1024;
/// Largest log kept to explain a failure: the verdict is at the end, and
/// programs that exhaust the verifier's budget log hundreds of megabytes.
const LOG_FAILURE_MAX: usize = 1024 * 1024;
/// `BPF_PROG_LOAD` attempts when the kernel says `EAGAIN` (it does when a
/// verification is interrupted; libbpf retries too).
const LOAD_ATTEMPTS: usize = 5;

/// `BPF_PROG_LOAD`, with the verifier log captured on failure (or always,
/// with a non-zero `log_level`). The log buffer starts at 64 KiB and grows
/// while the kernel reports it too small (`ENOSPC`, or `log_true_size` on
/// Linux 6.4+).
pub fn prog_load(req: &ProgLoad<'_>) -> Result<Loaded> {
    if req.insns.is_empty() || !req.insns.len().is_multiple_of(8) {
        return Err(KernelError::Size {
            command: Command::ProgLoad,
            what: "instruction bytes",
            expected: req.insns.len().div_ceil(8).max(1) * 8,
            found: req.insns.len(),
        });
    }
    let base = ProgLoadAttr {
        prog_type: req.prog_type,
        insn_cnt: (req.insns.len() / 8) as u32,
        insns: req.insns.as_ptr() as u64,
        license: req.license.as_ptr() as u64,
        prog_flags: req.prog_flags,
        kern_version: req.kern_version,
        prog_name: obj_name(req.name),
        expected_attach_type: req.expected_attach_type,
        prog_btf_fd: req.prog_btf_fd.map_or(0, fd_u32),
        func_info_rec_size: req.func_info_rec_size,
        func_info: ptr(req.func_info),
        func_info_cnt: records(req.func_info, req.func_info_rec_size, "func info")?,
        line_info_rec_size: req.line_info_rec_size,
        line_info: ptr(req.line_info),
        line_info_cnt: records(req.line_info, req.line_info_rec_size, "line info")?,
        ..ProgLoadAttr::default()
    };
    // Without a requested log, load without one first (the common case
    // costs one verification) and keep the errno: with a log the kernel
    // reports a truncated log as ENOSPC instead of the verifier's errno.
    let mut first_errno = None;
    if req.log_level == 0 {
        match load_once_with(base).0 {
            Ok(fd) => {
                return Ok(Loaded {
                    fd,
                    log: String::new(),
                });
            }
            Err(e) if e.0 == libc::EPERM || e.0 == libc::ENOSYS => {
                return Err(KernelError::from_errno(Command::ProgLoad, e));
            }
            Err(e) => first_errno = Some(e),
        }
    }
    let level = req.log_level.max(1);
    let cap = if req.log_level == 0 {
        LOG_FAILURE_MAX
    } else {
        LOG_MAX
    };
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        let attr = ProgLoadAttr {
            log_level: level,
            log_size: size as u32,
            log_buf: log.as_mut_ptr() as u64,
            ..base
        };
        let (result, true_size) = load_once_with(attr);
        let mut text = log_text(&log);
        match result {
            Ok(fd) => return Ok(Loaded { fd, log: text }),
            Err(e) if e.0 == libc::ENOSPC && size < cap => {
                size = (true_size as usize).max(size * 2).min(cap);
            }
            Err(e) if e.0 == libc::EPERM || e.0 == libc::ENOSYS => {
                return Err(KernelError::from_errno(Command::ProgLoad, e));
            }
            Err(e) => {
                let mut errno = e;
                if e.0 == libc::ENOSPC {
                    // Since Linux 6.4 the buffer holds the log's tail, where
                    // the verifier's verdict is.
                    text = format!(
                        "[verifier log truncated: it needs {true_size} bytes, {size} kept]\n{text}"
                    );
                    errno = first_errno.unwrap_or(e);
                }
                return Err(KernelError::Verifier {
                    name: req.name.to_string(),
                    errno,
                    log: text,
                });
            }
        }
    }
}

/// One `BPF_PROG_LOAD` (retried on `EAGAIN`); also returns the kernel's
/// `log_true_size`.
/// The number of `rec_size`-byte records in `bytes`, which must hold a
/// whole number of them: the kernel reads `count * rec_size` bytes.
fn records(bytes: &[u8], rec_size: u32, what: &'static str) -> Result<u32> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let rec = rec_size as usize;
    if rec == 0 || !bytes.len().is_multiple_of(rec) {
        return Err(KernelError::Size {
            command: Command::ProgLoad,
            what,
            expected: bytes.len().div_ceil(rec.max(1)) * rec.max(1),
            found: bytes.len(),
        });
    }
    u32::try_from(bytes.len() / rec).map_err(|_| KernelError::Size {
        command: Command::ProgLoad,
        what,
        expected: u32::MAX as usize,
        found: bytes.len() / rec,
    })
}

fn load_once_with(mut attr: ProgLoadAttr) -> (core::result::Result<OwnedFd, Errno>, u32) {
    let mut last = Errno(libc::EAGAIN);
    for _ in 0..LOAD_ATTEMPTS {
        // SAFETY: `insns` points to insn_cnt * 8 readable bytes,
        // `license` to a NUL-terminated string, `func_info`/`line_info` to
        // cnt * rec_size readable bytes (or are 0), all borrowed by the
        // caller's ProgLoad for this call; `log_buf` is either 0 or a
        // buffer of `log_size` writable bytes owned by `prog_load`.
        match unsafe { bpf(Command::ProgLoad, &mut attr) } {
            Ok(ret) => return (Ok(owned_fd(ret)), attr.log_true_size),
            Err(e) if e.0 == libc::EAGAIN => last = e,
            Err(e) => return (Err(e), attr.log_true_size),
        }
    }
    (Err(last), attr.log_true_size)
}

/// The text of a kernel log buffer, up to its NUL, without trailing
/// newlines.
fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).trim_end().to_string()
}

/// Buffers of one `BPF_PROG_TEST_RUN`.
#[derive(Debug, Default)]
pub struct TestRunIo<'a> {
    /// Packet or input data.
    pub data_in: &'a [u8],
    /// Where the kernel writes the output data (at most its length).
    pub data_out: Option<&'a mut [u8]>,
    /// Context passed in (for example a `struct xdp_md`).
    pub ctx_in: &'a [u8],
    /// Where the kernel writes the output context.
    pub ctx_out: Option<&'a mut [u8]>,
    /// Runs to time; 0 and 1 both mean one run.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU for `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

/// What `BPF_PROG_TEST_RUN` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunOut {
    /// The program's return value (`r0`, truncated to 32 bits).
    pub retval: u32,
    /// Mean nanoseconds per run over `repeat` runs.
    pub duration_ns: u32,
    /// Bytes of output data the program left (may exceed the out buffer,
    /// in which case the kernel copied only what fit and said `ENOSPC`).
    pub data_size_out: u32,
    /// Bytes of output context.
    pub ctx_size_out: u32,
}

/// `BPF_PROG_TEST_RUN`.
pub fn prog_test_run(prog: BorrowedFd<'_>, io: TestRunIo<'_>) -> Result<TestRunOut> {
    let cmd = Command::ProgTestRun;
    let too_big = |what: &'static str, len: usize| KernelError::Size {
        command: cmd,
        what,
        expected: u32::MAX as usize,
        found: len,
    };
    let u32_len = |what, len: usize| u32::try_from(len).map_err(|_| too_big(what, len));
    let TestRunIo {
        data_in,
        data_out,
        ctx_in,
        ctx_out,
        repeat,
        flags,
        cpu,
    } = io;
    let (data_out, data_size_out) = match data_out {
        Some(b) => (ptr_mut(b), u32_len("output data", b.len())?),
        None => (0, 0),
    };
    let (ctx_out, ctx_size_out) = match ctx_out {
        Some(b) => (ptr_mut(b), u32_len("output context", b.len())?),
        None => (0, 0),
    };
    let mut attr = TestRunAttr {
        prog_fd: fd_u32(prog),
        data_size_in: u32_len("input data", data_in.len())?,
        data_size_out,
        data_in: ptr(data_in),
        data_out,
        repeat,
        ctx_size_in: u32_len("input context", ctx_in.len())?,
        ctx_size_out,
        ctx_in: ptr(ctx_in),
        ctx_out,
        flags,
        cpu,
        ..TestRunAttr::default()
    };
    // SAFETY: the in pointers cover their stated sizes (read); the out
    // pointers are 0 or slices of exactly data_size_out / ctx_size_out
    // writable bytes, and the kernel (bpf_test_finish) never copies more
    // than those sizes.
    unsafe { bpf(cmd, &mut attr) }.map_err(|e| KernelError::from_errno(cmd, e))?;
    Ok(TestRunOut {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
        ctx_size_out: attr.ctx_size_out,
    })
}

// --- objects, info, BTF, links ----------------------------------------------

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| KernelError::Invalid {
        what: "path",
        reason: format!("{} contains a NUL byte", path.display()),
    })
}

/// `BPF_OBJ_PIN`: pins the map, program or link `fd` at `path` (on a
/// bpf filesystem).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let cpath = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: cpath.as_ptr() as u64,
        bpf_fd: fd_u32(fd),
        file_flags: 0,
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    unsafe { bpf(Command::ObjPin, &mut attr) }.map_err(|errno| pin_error("pin", path, errno))?;
    Ok(())
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`.
pub fn obj_get(path: &Path) -> Result<OwnedFd> {
    let cpath = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: cpath.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    let ret = unsafe { bpf(Command::ObjGet, &mut attr) }
        .map_err(|errno| pin_error("open pinned object", path, errno))?;
    Ok(owned_fd(ret))
}

fn pin_error(op: &'static str, path: &Path, errno: Errno) -> KernelError {
    match errno.0 {
        libc::EPERM | libc::ENOSYS => KernelError::from_errno(
            if op == "pin" {
                Command::ObjPin
            } else {
                Command::ObjGet
            },
            errno,
        ),
        _ => KernelError::Path {
            op,
            path: path.to_path_buf(),
            errno,
        },
    }
}

/// The `bpf_*_info` structures `BPF_OBJ_GET_INFO_BY_FD` fills.
pub trait Info: Default + Copy + private::Sealed {}
impl Info for BpfMapInfo {}
impl Info for BpfProgInfo {}
impl Info for BpfLinkInfo {}

mod private {
    pub trait Sealed {}
    impl Sealed for super::BpfMapInfo {}
    impl Sealed for super::BpfProgInfo {}
    impl Sealed for super::BpfLinkInfo {}
}

/// `BPF_OBJ_GET_INFO_BY_FD`: the info of a map, program or link, and the
/// number of bytes the kernel filled.
///
/// The structure is passed zeroed, so every pointer in it (jited code, map
/// ids...) is null and the kernel writes nothing outside it.
pub fn obj_get_info<T: Info>(fd: BorrowedFd<'_>) -> Result<(T, u32)> {
    let mut info = T::default();
    let mut attr = InfoAttr {
        bpf_fd: fd_u32(fd),
        info_len: size_of::<T>() as u32,
        info: &mut info as *mut T as u64,
    };
    // SAFETY: `info` is a zeroed T of info_len bytes, exclusively borrowed;
    // its pointer fields are null so the kernel fills only the struct.
    unsafe { bpf(Command::ObjGetInfoByFd, &mut attr) }
        .map_err(|e| KernelError::from_errno(Command::ObjGetInfoByFd, e))?;
    Ok((info, attr.info_len))
}

/// `union bpf_attr` for `BPF_BTF_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct GetFdByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `struct bpf_btf_info` (the fields oxbpf reads).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct BtfInfo {
    btf: u64,
    btf_size: u32,
    id: u32,
    name: u64,
    name_len: u32,
    kernel_btf: u32,
}

/// The raw bytes of the BTF object with id `id` (a map's `btf_id`, as
/// `bpftool btf dump id N` reads it): `BPF_BTF_GET_FD_BY_ID`, then
/// `BPF_OBJ_GET_INFO_BY_FD` twice (size, then data).
pub fn btf_bytes_by_id(id: u32) -> Result<Vec<u8>> {
    let mut attr = GetFdByIdAttr {
        id,
        ..GetFdByIdAttr::default()
    };
    // SAFETY: a plain attr of integers.
    let fd = owned_fd(
        unsafe { bpf(Command::BtfGetFdById, &mut attr) }
            .map_err(|e| KernelError::from_errno(Command::BtfGetFdById, e))?,
    );
    let mut info = BtfInfo::default();
    let mut iattr = InfoAttr {
        bpf_fd: fd_u32(fd.as_fd()),
        info_len: size_of::<BtfInfo>() as u32,
        info: &mut info as *mut BtfInfo as u64,
    };
    // SAFETY: `info` is a zeroed BtfInfo of info_len bytes with null
    // pointers: the kernel only reports the size.
    unsafe { bpf(Command::ObjGetInfoByFd, &mut iattr) }
        .map_err(|e| KernelError::from_errno(Command::ObjGetInfoByFd, e))?;
    let mut data = vec![0u8; info.btf_size as usize];
    let mut info2 = BtfInfo {
        btf: data.as_mut_ptr() as u64,
        btf_size: info.btf_size,
        ..BtfInfo::default()
    };
    let mut iattr = InfoAttr {
        bpf_fd: fd_u32(fd.as_fd()),
        info_len: size_of::<BtfInfo>() as u32,
        info: &mut info2 as *mut BtfInfo as u64,
    };
    // SAFETY: `btf` points at `btf_size` writable bytes owned here; the
    // kernel writes at most that many.
    unsafe { bpf(Command::ObjGetInfoByFd, &mut iattr) }
        .map_err(|e| KernelError::from_errno(Command::ObjGetInfoByFd, e))?;
    data.truncate(info2.btf_size.min(info.btf_size) as usize);
    Ok(data)
}

/// `BPF_BTF_LOAD` of raw BTF bytes; the kernel's log is in the error.
pub fn btf_load(btf: &[u8]) -> Result<OwnedFd> {
    let size = u32::try_from(btf.len()).map_err(|_| KernelError::Size {
        command: Command::BtfLoad,
        what: "BTF",
        expected: u32::MAX as usize,
        found: btf.len(),
    })?;
    let base = BtfLoadAttr {
        btf: ptr(btf),
        btf_size: size,
        ..BtfLoadAttr::default()
    };
    let mut attr = base;
    // SAFETY: `btf` points to btf_size readable bytes; no log buffer.
    match unsafe { bpf(Command::BtfLoad, &mut attr) } {
        Ok(ret) => return Ok(owned_fd(ret)),
        Err(e) if e.0 == libc::EPERM || e.0 == libc::ENOSYS => {
            return Err(KernelError::from_errno(Command::BtfLoad, e));
        }
        Err(_) => {}
    }
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        let mut attr = BtfLoadAttr {
            btf_log_buf: log.as_mut_ptr() as u64,
            btf_log_size: size as u32,
            btf_log_level: 1,
            ..base
        };
        // SAFETY: as above, and `btf_log_buf` is `btf_log_size` writable
        // bytes owned by this function.
        let result = unsafe { bpf(Command::BtfLoad, &mut attr) };
        match result {
            Ok(ret) => return Ok(owned_fd(ret)),
            Err(e) if e.0 == libc::ENOSPC && size < LOG_MAX => {
                size = (attr.btf_log_true_size as usize).max(size * 2).min(LOG_MAX);
            }
            Err(errno) => {
                return Err(KernelError::Btf {
                    errno,
                    log: log_text(&log),
                });
            }
        }
    }
}

/// `BPF_LINK_CREATE` with no type-specific attributes (XDP links).
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: u32,
    attach_type: u32,
    flags: u32,
) -> Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: fd_u32(prog),
        target,
        attach_type,
        flags,
    };
    // SAFETY: LinkCreateAttr holds no pointers.
    let ret = unsafe { bpf(Command::LinkCreate, &mut attr) }
        .map_err(|e| KernelError::from_errno(Command::LinkCreate, e))?;
    Ok(owned_fd(ret))
}

/// What a BPF file descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    Map,
    Prog,
    Link,
    Btf,
}

impl FdKind {
    /// The anonymous inode name the kernel gives such fds
    /// (`anon_inode:bpf-map`...).
    const fn inode(self) -> &'static str {
        match self {
            FdKind::Map => "anon_inode:bpf-map",
            FdKind::Prog => "anon_inode:bpf-prog",
            FdKind::Link => "anon_inode:bpf_link",
            FdKind::Btf => "anon_inode:btf",
        }
    }
}

/// Checks that `fd` is a BPF object of `kind`, by the anonymous inode
/// `/proc/self/fd` shows for it: `BPF_OBJ_GET_INFO_BY_FD` answers for any
/// BPF fd, so a program pinned where a map was expected would otherwise be
/// read as a map with nonsense sizes.
pub fn expect_fd_kind(fd: BorrowedFd<'_>, kind: FdKind) -> Result<()> {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let target = std::fs::read_link(&path).map_err(|e| KernelError::Path {
        op: "read link",
        path: path.clone().into(),
        errno: Errno(e.raw_os_error().unwrap_or(0)),
    })?;
    let target = target.to_string_lossy();
    if target == kind.inode() {
        Ok(())
    } else {
        Err(KernelError::Invalid {
            what: "file descriptor",
            reason: format!("expected {}, found {target}", kind.inode()),
        })
    }
}

// --- the rest of the OS -----------------------------------------------------

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`), the count
/// per-CPU map values are sized by (the kernel's `num_possible_cpus`).
pub fn possible_cpus() -> Result<usize> {
    static CPUS: OnceLock<core::result::Result<usize, String>> = OnceLock::new();
    const PATH: &str = "/sys/devices/system/cpu/possible";
    CPUS.get_or_init(|| {
        let text = std::fs::read_to_string(PATH).map_err(|e| e.to_string())?;
        parse_cpu_list(&text).ok_or_else(|| format!("cannot parse {text:?}"))
    })
    .clone()
    .map_err(|reason| KernelError::Invalid { what: PATH, reason })
}

/// Counts the CPUs of a kernel CPU list (`0-3,8,10-11`): the highest
/// listed CPU plus one, as possible-CPU ids are dense from 0.
fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut max = None;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let last = match part.split_once('-') {
            Some((lo, hi)) => {
                lo.trim().parse::<usize>().ok()?;
                hi.trim().parse::<usize>().ok()?
            }
            None => part.trim().parse::<usize>().ok()?,
        };
        max = Some(max.map_or(last, |m: usize| m.max(last)));
    }
    max.map(|m| m + 1)
}

/// `statfs(path).f_type`.
pub fn fs_magic(path: &Path) -> Result<i64> {
    let cpath = c_path(path)?;
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut buf: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: `cpath` is NUL-terminated and `buf` a writable statfs.
    let ret = unsafe { libc::statfs(cpath.as_ptr(), &mut buf) };
    if ret != 0 {
        return Err(KernelError::Path {
            op: "statfs",
            path: path.to_path_buf(),
            errno: Errno::last(),
        });
    }
    Ok(buf.f_type as i64)
}

/// Mounts a bpf filesystem at `path` (`mount -t bpf bpf PATH`), mode 0700
/// as systemd mounts `/sys/fs/bpf`.
pub fn mount_bpffs(path: &Path) -> Result<()> {
    let cpath = c_path(path)?;
    // SAFETY: every argument is a NUL-terminated string alive for the call.
    let ret = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            cpath.as_ptr(),
            c"bpf".as_ptr(),
            0,
            c"mode=0700".as_ptr().cast(),
        )
    };
    if ret != 0 {
        return Err(KernelError::Path {
            op: "mount bpffs on",
            path: path.to_path_buf(),
            errno: Errno::last(),
        });
    }
    Ok(())
}

/// The index of network interface `name`.
pub fn if_nametoindex(name: &str) -> Result<u32> {
    let cname = CString::new(name).map_err(|_| KernelError::Invalid {
        what: "interface name",
        reason: format!("{name:?} contains a NUL byte"),
    })?;
    // SAFETY: `cname` is NUL-terminated.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(KernelError::Path {
            op: "find interface",
            path: name.into(),
            errno: Errno::last(),
        });
    }
    Ok(index)
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Moves the calling *thread* into a new, empty network namespace
/// (`unshare(CLONE_NEWNET)`); it holds only a `lo` that is down. The
/// namespace goes away when the last thread in it and the last fd on it are
/// gone. Used by tests that attach to interfaces without touching the
/// host's.
pub fn unshare_net_namespace() -> Result<()> {
    // SAFETY: unshare has no memory arguments; CLONE_NEWNET affects only
    // the calling thread's namespace membership.
    let ret = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if ret != 0 {
        return Err(KernelError::Path {
            op: "unshare network namespace of",
            path: "current thread".into(),
            errno: Errno::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_up_to_the_highest_cpu() {
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("0-3\n"), Some(4));
        assert_eq!(parse_cpu_list("0-1,4,6-7"), Some(8));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn object_names_keep_only_kernel_characters() {
        assert_eq!(name_from(&obj_name("xdp_prog.1")), "xdp_prog.1");
        assert_eq!(name_from(&obj_name("a-b c/d")), "abcd");
        let long = obj_name("abcdefghijklmnopqrstuvwxyz");
        assert_eq!(long[15], 0, "NUL always fits");
        assert_eq!(name_from(&long), "abcdefghijklmno");
    }

    #[test]
    fn log_text_stops_at_nul_and_trims() {
        assert_eq!(log_text(b"0: R1=ctx\n\n\0garbage"), "0: R1=ctx");
        assert_eq!(log_text(b""), "");
    }
}
