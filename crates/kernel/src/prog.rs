//! Kernel programs: load with the verifier log, test-run, pin.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use oxbpf_isa::RawInsn;

use crate::error::{KernelError, Result};
use crate::sys::{self, attr::BpfProgInfo};

/// Program types (`enum bpf_prog_type`) oxbpf loads.
pub mod prog_type {
    pub const SOCKET_FILTER: u32 = 1;
    pub const SCHED_CLS: u32 = 3;
    pub const SCHED_ACT: u32 = 4;
    pub const XDP: u32 = 6;
}

/// Attach types (`enum bpf_attach_type`) oxbpf uses.
pub mod attach_type {
    pub const XDP: u32 = 37;
    pub const TCX_INGRESS: u32 = 46;
    pub const TCX_EGRESS: u32 = 47;
}

/// `BPF_PROG_LOAD` flags (`BPF_F_*`).
pub mod prog_flags {
    /// `BPF_F_SLEEPABLE`: the program may sleep (`.s` sections).
    pub const SLEEPABLE: u32 = 1 << 4;
    /// `BPF_F_XDP_HAS_FRAGS`: the XDP program handles multi-buffer
    /// packets (`xdp.frags` sections).
    pub const XDP_HAS_FRAGS: u32 = 1 << 5;
}

/// tc actions (`TC_ACT_*` of `linux/pkt_cls.h`).
pub mod tc_action {
    pub const OK: i32 = 0;
    pub const SHOT: i32 = 2;
}

/// XDP actions (`enum xdp_action`).
pub mod xdp_action {
    pub const ABORTED: u32 = 0;
    pub const DROP: u32 = 1;
    pub const PASS: u32 = 2;
    pub const TX: u32 = 3;
    pub const REDIRECT: u32 = 4;
}

/// Smallest packet `BPF_PROG_TEST_RUN` accepts for XDP and skb programs:
/// an Ethernet header (`ETH_HLEN`), checked in `bpf_test_init`.
pub const MIN_TEST_PACKET: usize = 14;

/// How to load a program (`BPF_PROG_LOAD`).
#[derive(Clone, Debug)]
pub struct ProgramSpec<'a> {
    /// Name (at most 15 of the characters the kernel accepts are kept).
    pub name: &'a str,
    /// `enum bpf_prog_type` (see [`prog_type`]).
    pub prog_type: u32,
    /// `enum bpf_attach_type` (see [`attach_type`]).
    pub expected_attach_type: u32,
    /// The instructions, map references already resolved to fds.
    pub insns: &'a [RawInsn],
    /// License string; `"GPL"` allows GPL-only helpers.
    pub license: &'a str,
    /// BTF of the program, if it has func/line info.
    pub btf: Option<BorrowedFd<'a>>,
    /// One record per function (entry first), referring to `btf`.
    pub func_info: &'a [FuncInfo],
    /// Source lines, referring to `btf`'s strings (needs `func_info`).
    pub line_info: &'a [LineInfo],
    /// Verifier log level: 0 captures a log only when the load fails; 1 or
    /// 2 always capture one (see [`KernelProgram::log`]).
    pub log_level: u32,
    /// `BPF_F_*` load flags (see [`prog_flags`]).
    pub prog_flags: u32,
    /// Kernel version the program says it was built for (`version`
    /// section; only old kernels check it, for kprobes).
    pub kern_version: u32,
}

impl<'a> ProgramSpec<'a> {
    /// An XDP program (expected attach type `BPF_XDP`) licensed `"GPL"`.
    pub fn xdp(name: &'a str, insns: &'a [RawInsn]) -> ProgramSpec<'a> {
        ProgramSpec {
            name,
            prog_type: prog_type::XDP,
            expected_attach_type: attach_type::XDP,
            insns,
            license: "GPL",
            btf: None,
            func_info: &[],
            line_info: &[],
            log_level: 0,
            prog_flags: 0,
            kern_version: 0,
        }
    }

    /// A tc classifier (`SCHED_CLS`, for [`crate::TcxLink`]) licensed
    /// `"GPL"`.
    pub fn tc(name: &'a str, insns: &'a [RawInsn]) -> ProgramSpec<'a> {
        ProgramSpec {
            prog_type: prog_type::SCHED_CLS,
            expected_attach_type: 0,
            ..ProgramSpec::xdp(name, insns)
        }
    }
}

/// `struct bpf_func_info`: the function starting at instruction
/// `insn_off` has BTF type `type_id` (a `FUNC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// `struct bpf_line_info`: instruction `insn_off` comes from the source
/// line described by BTF string offsets and `line_col` (line << 10 |
/// column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// A program loaded into the kernel. Closing the last fd (and unpinning,
/// detaching) unloads it.
///
/// ```no_run
/// use oxbpf_isa::{asm::assemble, encode};
/// use oxbpf_kernel::{KernelProgram, ProgramSpec, TestRun};
/// let insns = encode(&assemble("mov %r0, 2\nexit\n").unwrap());
/// let prog = KernelProgram::load(&ProgramSpec::xdp("pass", &insns))?;
/// let out = prog.test_run(&mut TestRun::with_data(&[0u8; 14]))?;
/// assert_eq!(out.retval, 2);
/// # Ok::<(), oxbpf_kernel::KernelError>(())
/// ```
#[derive(Debug)]
pub struct KernelProgram {
    fd: OwnedFd,
    name: String,
    prog_type: u32,
    log: String,
}

impl KernelProgram {
    /// Loads a program; a rejection is [`KernelError::Verifier`] with the
    /// verifier's log.
    pub fn load(spec: &ProgramSpec<'_>) -> Result<KernelProgram> {
        let license = CString::new(spec.license).map_err(|_| KernelError::Invalid {
            what: "license",
            reason: format!("{:?} contains a NUL byte", spec.license),
        })?;
        let bytes: Vec<u8> = spec.insns.iter().flat_map(|i| i.to_bytes()).collect();
        let func_info: Vec<u8> = spec
            .func_info
            .iter()
            .flat_map(|f| [f.insn_off, f.type_id])
            .flat_map(u32::to_ne_bytes)
            .collect();
        let line_info: Vec<u8> = spec
            .line_info
            .iter()
            .flat_map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col])
            .flat_map(u32::to_ne_bytes)
            .collect();
        let loaded = sys::prog_load(&sys::ProgLoad {
            prog_type: spec.prog_type,
            expected_attach_type: spec.expected_attach_type,
            insns: &bytes,
            license: &license,
            name: spec.name,
            prog_flags: spec.prog_flags,
            kern_version: spec.kern_version,
            prog_btf_fd: spec.btf,
            func_info: &func_info,
            func_info_rec_size: 8,
            line_info: &line_info,
            line_info_rec_size: 16,
            log_level: spec.log_level,
        })?;
        Ok(KernelProgram {
            fd: loaded.fd,
            name: spec.name.to_string(),
            prog_type: spec.prog_type,
            log: loaded.log,
        })
    }

    /// Takes ownership of a program fd (from a pin...).
    pub fn from_fd(fd: OwnedFd) -> Result<KernelProgram> {
        sys::expect_fd_kind(fd.as_fd(), sys::FdKind::Prog)?;
        let (info, _) = sys::obj_get_info::<BpfProgInfo>(fd.as_fd())?;
        Ok(KernelProgram {
            fd,
            name: sys::name_from(&info.name),
            prog_type: info.prog_type,
            log: String::new(),
        })
    }

    /// Opens the program pinned at `path`.
    pub fn from_pin(path: &Path) -> Result<KernelProgram> {
        KernelProgram::from_fd(sys::obj_get(path)?)
    }

    /// Pins the program at `path` on a bpf filesystem.
    pub fn pin(&self, path: &Path) -> Result<()> {
        crate::pin::pin(self.as_fd(), path)
    }

    /// The name it was loaded with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `enum bpf_prog_type`.
    pub fn prog_type(&self) -> u32 {
        self.prog_type
    }

    /// The verifier log of a load with a non-zero log level.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// The fd number.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The kernel's view of the program (id, tag, sizes, run statistics).
    pub fn info(&self) -> Result<BpfProgInfo> {
        Ok(sys::obj_get_info::<BpfProgInfo>(self.as_fd())?.0)
    }

    /// Runs the program through `BPF_PROG_TEST_RUN`. Output buffers are
    /// sized from the inputs (data gets `extra_out` more bytes, for
    /// programs that grow the packet).
    pub fn test_run(&self, run: &mut TestRun<'_>) -> Result<TestRunOutput> {
        let mut data_out = vec![0u8; run.data.len() + run.extra_out];
        let mut ctx_out = vec![0u8; run.ctx.len()];
        let out = sys::prog_test_run(
            self.as_fd(),
            sys::TestRunIo {
                data_in: run.data,
                data_out: (!data_out.is_empty()).then_some(&mut data_out[..]),
                ctx_in: run.ctx,
                ctx_out: (!ctx_out.is_empty()).then_some(&mut ctx_out[..]),
                repeat: run.repeat,
                flags: run.flags,
                cpu: run.cpu,
            },
        )?;
        data_out.truncate(out.data_size_out as usize);
        ctx_out.truncate(out.ctx_size_out as usize);
        Ok(TestRunOutput {
            retval: out.retval,
            duration_ns: out.duration_ns,
            data: data_out,
            ctx: ctx_out,
        })
    }
}

impl AsFd for KernelProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Inputs of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// Packet data (at least [`MIN_TEST_PACKET`] bytes for XDP).
    pub data: &'a [u8],
    /// Context (for XDP a `struct xdp_md`; empty for the default).
    pub ctx: &'a [u8],
    /// Times to run; the reported duration is the mean per run.
    pub repeat: u32,
    /// Extra room in the output data buffer.
    pub extra_out: usize,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

impl<'a> TestRun<'a> {
    /// One run over `data`.
    pub fn with_data(data: &'a [u8]) -> TestRun<'a> {
        TestRun {
            data,
            ..TestRun::default()
        }
    }
}

/// Results of `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// `r0` truncated to 32 bits.
    pub retval: u32,
    /// Mean nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
    /// The packet after the run.
    pub data: Vec<u8>,
    /// The context after the run.
    pub ctx: Vec<u8>,
}
