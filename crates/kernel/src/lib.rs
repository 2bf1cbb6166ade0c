//! The Linux kernel as oxbpf's third engine, and oxbpf's door to the
//! kernel's BPF objects.
//!
//! The kernel is the reference implementation of eBPF. This crate lets
//! oxbpf ask it: load whole objects parsed by `oxbpf-object`
//! ([`KernelObject`]: maps created and filled, map references resolved,
//! programs loaded), create maps and read them back ([`KernelMap`]), load
//! programs with the verifier's log on rejection ([`KernelProgram`]), run
//! them with `BPF_PROG_TEST_RUN` ([`KernelProgram::test_run`]), pin objects
//! to bpffs ([`pin`]), load BTF ([`KernelBtf`]), attach XDP and tc through
//! links ([`XdpLink`], [`TcxLink`]), and run raw bytecode behind the same
//! [`oxbpf_runtime::Engine`] trait as the interpreter and the JIT
//! ([`KernelEngine`], see [`wrap`] for how a raw program is made runnable).
//!
//! # Design decisions
//!
//! **Thin `bpf(2)` wrappers rather than aya or libbpf-rs.** oxbpf already
//! has what those crates are mostly about: its own ELF parser and
//! relocation model (`oxbpf-object`), map model (`oxbpf-maps`) and
//! verifier. What it needs from the kernel is a dozen commands used in ways
//! the loaders do not expose directly: loading *hand-built* instruction
//! arrays (the conformance wrapper of [`wrap`]), test runs with arbitrary
//! data and context buffers and `repeat`, verifier logs at any level with a
//! growing buffer, typed errors carrying the command and errno. libbpf-rs
//! would add a C library and its build to every build of oxbpf and own the
//! object lifecycle (open, relocate, load) that `oxbpf-object` does; aya is
//! pure Rust but would parse and relocate objects a second time through
//! `aya-obj`, and the raw paths it keeps public are a moving API. With
//! thin wrappers the whole OS surface is one module, [`sys`], about as
//! large as the glue either crate would need, whose attribute layouts are
//! tested field by field against the uapi header. The cost, tracking new
//! uapi fields, is small because the kernel accepts shorter attribute
//! structs (it zero-fills the rest), so oxbpf only declares what it uses.
//!
//! **One seam for the OS.** Every system call is in [`sys`]; everything
//! else is safe Rust on top, so the wrapping logic and the error handling
//! are unit-tested without root.
//!
//! **File descriptors are owned.** Maps, programs, BTF and links hold an
//! [`std::os::fd::OwnedFd`]; dropping the handle closes it, and the kernel
//! frees the object when no fd, pin or attachment is left.
//!
//! **Errors name the command and errno** ([`KernelError`]); missing
//! privileges (`EPERM`) and a kernel without `bpf(2)` (`ENOSYS`) get their
//! own variants with a message saying what is needed, and a rejected load
//! carries the verifier's log. Nothing here panics on a kernel refusal.
//!
//! # Privileges
//!
//! Everything but the pure parts needs root or `CAP_BPF` (plus
//! `CAP_NET_ADMIN` for XDP). [`KernelEngine::available`] says whether the
//! current process can use `bpf(2)`.

pub mod btf;
pub mod btf_fixup;
pub mod engine;
pub mod error;
pub mod link;
pub mod map;
pub mod object;
pub mod pin;
pub mod prog;
pub mod sys;
pub mod wrap;

pub use btf::KernelBtf;
pub use engine::{KernelEngine, KernelExecutable, KernelRun};
pub use error::{Command, Errno, KernelError};
pub use link::{TcDirection, TcxLink, XdpLink, XdpMode};
pub use map::{KernelMap, MapBtf, MapSpec};
pub use object::{KernelObject, LoadOptions, ObjectLoadError};
pub use prog::{KernelProgram, ProgramSpec, TestRun, TestRunOutput};
