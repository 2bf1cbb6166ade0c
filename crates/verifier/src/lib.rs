//! The oxbpf verifier: proves an eBPF program memory-safe for its program
//! type by abstract interpretation over all paths.
//!
//! For every reachable instruction and every path to it, the verifier
//! knows what each register and stack slot holds: nothing yet, a number
//! (a [`tnum::Tnum`] of known bits plus signed and unsigned, 64- and 32-bit
//! ranges, see [`scalar::Scalar`]), or a pointer with a base (context,
//! stack, packet, packet end, packet metadata, map value, map object,
//! helper memory, function), a fixed and a variable offset and, for packet
//! pointers, the number of bytes proven to lie before `data_end`.
//! Conditional jumps refine both successors; a null check on a lookup's
//! result refines every copy of it; a comparison of a packet pointer with
//! `data_end` proves a range for every pointer with the same variable
//! offset.
//!
//! Design decisions:
//!
//! - **Depth-first exploration with pruning**, like the kernel's
//!   `do_check`: a worklist of `(pc, state)`; at jump targets a state is
//!   dropped when an earlier state at the same instruction subsumes it
//!   ([`state::subsumes`]). A state that meets an identical state on its
//!   own path is an infinite loop. Every processed instruction counts
//!   against a budget (1M, as the kernel).
//! - **Two profiles** ([`Profile`]): `privileged` accepts what the kernel
//!   accepts from root; `strict` adds the unprivileged rules.
//! - **Errors carry the facts** ([`VerifyError`]): kind, instruction,
//!   source line, the registers involved in words, the branch decisions on
//!   the path.
//! - **Frozen read-only maps are constants** ([`MapInfo::rodata`]): loads
//!   at constant offsets of `.rodata` give known numbers, so branches on
//!   configuration are decided, as the kernel's `bpf_map_direct_read`.
//! - **The result is a type** ([`VerifiedProgram`]) carrying facts per
//!   instruction that engines may rely on.
//!
//! ```
//! use oxbpf_verifier::{verify, Input};
//! use oxbpf_abi::program_type::ProgramType;
//! let insns = oxbpf_isa::asm::assemble("mov %r0, 2\nexit").unwrap();
//! let v = verify(&Input::new(&insns, ProgramType::Xdp)).unwrap();
//! assert_eq!(v.stats.processed, 2);
//! let bad = oxbpf_isa::asm::assemble("exit").unwrap();
//! let e = verify(&Input::new(&bad, ProgramType::Xdp)).unwrap_err();
//! assert_eq!(e.kind().as_str(), "uninit_register");
//! ```

mod check;
pub mod error;
pub mod helpers;
mod liveness;
pub mod scalar;
pub mod state;
pub mod tnum;

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::{Insn, RawInsn};

pub use error::{BranchStep, ErrorKind, RegNote, VerifyError};

/// Which rules apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// What the kernel accepts from root: pointers may be stored in maps,
    /// compared and returned; uninitialised stack reads as unknown.
    #[default]
    Privileged,
    /// Adds the unprivileged rules: no pointer leaks, no uninitialised
    /// stack reads, pointer comparisons only where the kernel allows them,
    /// and a warning for XDP return values outside the known actions.
    Strict,
}

impl Profile {
    /// `privileged` or `strict`.
    pub fn from_name(s: &str) -> Option<Profile> {
        match s {
            "privileged" => Some(Profile::Privileged),
            "strict" => Some(Profile::Strict),
            _ => None,
        }
    }
}

/// What the verifier needs to know about a map the program references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// Name, for diagnostics.
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// Programs may not write its values (`BPF_F_RDONLY_PROG`, `.rodata`).
    pub readonly: bool,
    /// Map-in-map: index (in the same map list) of the inner map
    /// template, whose pointer a lookup returns.
    pub inner: Option<u32>,
    /// The value's bytes when they are fixed for the program's lifetime:
    /// a single-entry array, read-only to programs and frozen (`.rodata`;
    /// the kernel's `bpf_map_is_rdonly` with `map_direct_value_addr`).
    /// Loads of 1, 2, 4 or 8 bytes at a constant offset then give known
    /// numbers, as `bpf_map_direct_read` does, so branches on
    /// configuration constants are decided. Must be exactly what the map
    /// holds when the program runs (after a loader's `set_global`).
    pub rodata: Option<Vec<u8>>,
}

impl MapInfo {
    /// From an object's map definition.
    pub fn from_spec(m: &oxbpf_object::MapSpec) -> MapInfo {
        use oxbpf_abi::map_kind::flags::BPF_F_RDONLY_PROG;
        MapInfo {
            name: m.name.clone(),
            kind: m.kind,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            readonly: m.map_flags & BPF_F_RDONLY_PROG != 0 || m.frozen,
            inner: None,
            rodata: rodata_of(m),
        }
    }

    /// The infos of an object's maps, in index order, followed by the
    /// inner map templates of map-in-maps (which their `inner` names).
    pub fn from_specs(specs: &[oxbpf_object::MapSpec]) -> Vec<MapInfo> {
        let mut v: Vec<MapInfo> = specs.iter().map(MapInfo::from_spec).collect();
        for (i, m) in specs.iter().enumerate() {
            if let Some(inner) = &m.inner {
                v[i].inner = Some(v.len() as u32);
                v.push(MapInfo::from_spec(inner));
            }
        }
        v
    }
}

/// The fixed contents of a map the kernel would read as constants
/// (`bpf_map_is_rdonly`: `BPF_F_RDONLY_PROG` and frozen; an array with one
/// entry, as `array_map_direct_value_addr` requires), padded with zeros to
/// the value size (`.bss`-style short initial data).
fn rodata_of(m: &oxbpf_object::MapSpec) -> Option<Vec<u8>> {
    use oxbpf_abi::map_kind::flags::BPF_F_RDONLY_PROG;
    if !(m.frozen
        && m.map_flags & BPF_F_RDONLY_PROG != 0
        && m.kind == MapKind::Array
        && m.max_entries == 1)
    {
        return None;
    }
    let mut bytes = match &m.init {
        oxbpf_object::MapInit::Data(d) => d.clone(),
        _ => Vec::new(),
    };
    bytes.resize(m.value_size as usize, 0);
    Some(bytes)
}

/// Verification options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub profile: Profile,
    /// Processed-instruction budget.
    pub budget: u64,
    /// Record the state at every processed instruction in
    /// [`VerifiedProgram::log`] (or [`Outcome::log`]).
    pub log_states: bool,
    /// Prune only against stored states that are at least as wide in
    /// every number and stack byte, ignoring precision and stack
    /// liveness: slower, the same verdicts; for cross-checking them.
    pub exact_pruning: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            profile: Profile::Privileged,
            budget: oxbpf_abi::limits::DEFAULT_BUDGET,
            log_states: false,
            exact_pruning: false,
        }
    }
}

/// A program to verify.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    /// Instructions by slot.
    pub insns: &'a [Insn],
    pub program_type: ProgramType,
    /// Maps by index (`lddw` map references hold the index).
    pub maps: &'a [MapInfo],
    /// Source line of a slot (`file:line  text`), when line info exists.
    pub lines: Option<&'a dyn Fn(usize) -> Option<String>>,
    pub options: Options,
}

impl<'a> Input<'a> {
    /// A program without maps or line info, with default options.
    pub fn new(insns: &'a [Insn], program_type: ProgramType) -> Input<'a> {
        Input {
            insns,
            program_type,
            maps: &[],
            lines: None,
            options: Options::default(),
        }
    }
}

impl core::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Input")
            .field("insns", &self.insns.len())
            .field("program_type", &self.program_type)
            .field("maps", &self.maps)
            .field("options", &self.options)
            .finish()
    }
}

/// The kind of value a register holds at an instruction, over all paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RegType {
    /// Never seen (the instruction was not reached) or not initialised.
    #[default]
    NotInit,
    Scalar,
    Ctx,
    Stack,
    Packet,
    PacketEnd,
    PacketMeta,
    MapValue,
    MapValueOrNull,
    MapPtr,
    Mem,
    Func,
    /// Different kinds on different paths.
    Mixed,
}

/// What the verifier proved about one instruction, over every path that
/// reaches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsnFacts {
    /// Some path reaches it.
    pub reached: bool,
    /// For a division or modulo by a register: the divisor is non-zero on
    /// every path, so the engine may drop its zero check.
    pub divisor_nonzero: bool,
    /// Register kinds on entry.
    pub entry: [RegType; 11],
}

/// Counters of one verification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Program slots.
    pub insns: usize,
    /// Instructions processed over all paths.
    pub processed: u64,
    /// States stored for pruning.
    pub states: u64,
    /// States dropped because a stored one subsumed them.
    pub pruned: u64,
    /// Largest number of states waiting on the worklist.
    pub peak_states: usize,
    /// Stored states forgotten to make room (at most 64 are kept per
    /// instruction; the one that pruned least goes).
    pub evicted: u64,
    /// Largest number of states stored at one instruction.
    pub max_states_per_insn: usize,
}

/// A program the verifier accepted, with what it proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProgram {
    pub insns: Vec<Insn>,
    pub program_type: ProgramType,
    pub profile: Profile,
    /// One entry per slot.
    pub facts: Vec<InsnFacts>,
    pub stats: Stats,
    /// Warnings (strict profile: XDP return values outside the actions).
    pub warnings: Vec<String>,
    /// The first instruction found where some path may read stack bytes
    /// that no instruction of the run wrote (the privileged profile allows
    /// it, as the kernel does for `CAP_PERFMON`; the strict profile refuses
    /// such programs). `None`: an engine need not zero the stack before a
    /// run, no path can see what it held. Conservative: a state pruned at
    /// `pc` only thanks to the privileged allowance gives `Some(pc)`.
    pub reads_uninit_stack: Option<usize>,
    /// State log, when requested.
    pub log: Vec<String>,
}

/// Verifies a program.
pub fn verify(input: &Input<'_>) -> Result<VerifiedProgram, Box<VerifyError>> {
    check::run(input).result
}

/// A verification's result together with its state log (filled when
/// [`Options::log_states`] is set, also for rejected programs).
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<VerifiedProgram, Box<VerifyError>>,
    pub log: Vec<String>,
    pub stats: Stats,
}

/// Verifies a program and returns the log as well.
pub fn verify_logged(input: &Input<'_>) -> Outcome {
    check::run(input)
}

/// Decodes raw instructions and verifies them: decoding problems become
/// `malformed`, `jump_out_of_range` and `jump_into_lddw` errors.
pub fn verify_raw(
    raw: &[RawInsn],
    program_type: ProgramType,
    maps: &[MapInfo],
    options: Options,
) -> Result<VerifiedProgram, Box<VerifyError>> {
    let insns = oxbpf_isa::decode::decode_each(raw).map_err(|e| decode_error(&e))?;
    verify(&Input {
        insns: &insns,
        program_type,
        maps,
        lines: None,
        options,
    })
}

/// Verifies a program of a parsed object.
pub fn verify_object_program(
    prog: &oxbpf_object::Program,
    maps: &[oxbpf_object::MapSpec],
    options: Options,
) -> Result<VerifiedProgram, Box<VerifyError>> {
    verify_object_program_logged(prog, maps, options).result
}

/// [`verify_object_program`] with the log.
pub fn verify_object_program_logged(
    prog: &oxbpf_object::Program,
    maps: &[oxbpf_object::MapSpec],
    options: Options,
) -> Outcome {
    if let Some(e) = unloadable(prog) {
        return Outcome {
            result: Err(e),
            log: Vec::new(),
            stats: Stats::default(),
        };
    }
    let infos = MapInfo::from_specs(maps);
    let lines = |pc: usize| {
        prog.line_at(pc).filter(|l| l.line != 0).map(|l| {
            let file = l.file.rsplit('/').next().unwrap_or(&l.file);
            format!("{file}:{}  `{}`", l.line, l.text.trim())
        })
    };
    verify_logged(&Input {
        insns: &prog.insns,
        program_type: prog.program_type,
        maps: &infos,
        lines: Some(&lines),
        options,
    })
}

/// Programs the kernel refuses before its verifier runs (`bpf_prog_load`):
/// a section that names no program type (`find_prog_type` fails on
/// `BPF_PROG_TYPE_UNSPEC`), or one whose program is verified against a
/// kernel function or type given by BTF id (`fentry/F`, `lsm/F`, `iter/T`:
/// `bpf_check_attach_target`), which oxbpf does not resolve, so the
/// program's context is unknown.
fn unloadable(prog: &oxbpf_object::Program) -> Option<Box<VerifyError>> {
    let message = if prog.program_type == ProgramType::Unspec {
        format!(
            "section {:?} names no program type; the kernel loads no program of type unspec",
            prog.section
        )
    } else if oxbpf_abi::program_type::section_def(&prog.section).is_some_and(|d| d.attach_btf) {
        format!(
            "section {:?} attaches to a kernel function or type by BTF id, which oxbpf does not resolve; its context cannot be checked",
            prog.section
        )
    } else {
        return None;
    };
    Some(Box::new(VerifyError {
        kind: ErrorKind::Malformed,
        pc: None,
        insn: None,
        source: None,
        message,
        regs: vec![],
        detail: None,
        path: vec![],
    }))
}

/// The verifier's view of a decoding error: jumps out of the program or
/// into an `lddw` keep their own kinds, everything else is `malformed`.
pub fn decode_error(e: &oxbpf_isa::DecodeError) -> Box<VerifyError> {
    use oxbpf_isa::DecodeError as D;
    let kind = match e {
        D::JumpOutOfRange { .. } => ErrorKind::JumpOutOfRange,
        D::JumpIntoLddw { .. } => ErrorKind::JumpIntoLddw,
        _ => ErrorKind::Malformed,
    };
    Box::new(VerifyError {
        kind,
        pc: e.index(),
        insn: None,
        source: None,
        message: e.to_string(),
        regs: vec![],
        detail: None,
        path: vec![],
    })
}
