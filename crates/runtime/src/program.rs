//! Programs prepared for execution.

use std::sync::Arc;

use oxbpf_isa::{CallTarget, Insn, Reg};

use crate::blocks::Blocks;
use crate::check::{self, RegSet};
use crate::helper::HelperTable;

/// How an engine must run a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SafetyMode {
    /// Not verified: every load and store is checked against the run's
    /// regions; a violation traps.
    Checked,
    /// Proved safe by the verifier: no run-time checks.
    Verified,
}

/// Why a program cannot be prepared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The program has no instructions.
    #[error("program has no instructions")]
    Empty,
    /// A register is read on some path before any write to it.
    #[error("insn {index}: {reg:?} is read before it is written on some path")]
    ReadBeforeWrite { index: usize, reg: Reg },
    /// A call names a helper the environment does not have.
    #[error("insn {index}: helper {id} does not exist in the {table} helper table")]
    UnknownHelper {
        index: usize,
        id: i32,
        table: &'static str,
    },
    /// Execution can run past the last instruction.
    #[error("insn {index}: execution falls off the end of the program")]
    FallsOffEnd { index: usize },
}

/// Bytecode ready for an engine: decoded instructions, the helper table of
/// its environment, its basic blocks, and its safety mode.
///
/// Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Program {
    insns: Arc<[Insn]>,
    helpers: Arc<HelperTable>,
    blocks: Arc<Blocks>,
    mode: SafetyMode,
    /// The maps the program's `lddw` handles name, when the linker
    /// attached them ([`Program::with_maps`]).
    maps: Option<Arc<crate::maps::LinkedMaps>>,
    /// Whether a run must start on a zeroed stack ([`Program::zeroed_stack`]).
    zeroed_stack: bool,
    /// Whether runs must register their memory as regions
    /// ([`Program::needs_regions`]).
    needs_regions: bool,
}

impl Program {
    /// Prepares an unverified program for checked mode. `insns` must come
    /// from [`oxbpf_isa::decode()`] or [`oxbpf_isa::asm::assemble`] (jump
    /// targets valid). Runs the read-before-write check with `entry` as the
    /// registers set at entry (`r10` is always set).
    pub fn checked(
        insns: Vec<Insn>,
        helpers: Arc<HelperTable>,
        entry: &[Reg],
    ) -> Result<Program, LoadError> {
        if insns.is_empty() {
            return Err(LoadError::Empty);
        }
        let mut set: RegSet = 1 << 10;
        for r in entry {
            set |= 1 << r.num();
        }
        check::read_before_write(&insns, &helpers, set)?;
        Ok(Program::new_unchecked(insns, helpers, SafetyMode::Checked))
    }

    /// Builds a program in the given mode with no checks. Only the verifier
    /// may create `Verified` programs; it calls this after its proof.
    #[doc(hidden)]
    pub fn new_unchecked(insns: Vec<Insn>, helpers: Arc<HelperTable>, mode: SafetyMode) -> Program {
        let blocks = Blocks::new(&insns);
        let needs_regions = mode == SafetyMode::Checked || consults_regions(&insns);
        Program {
            insns: insns.into(),
            helpers,
            blocks: Arc::new(blocks),
            mode,
            maps: None,
            zeroed_stack: true,
            needs_regions,
        }
    }

    /// Sets whether runs need a zeroed stack. Only the verifier's finding
    /// may clear it: a verified program none of whose paths reads a stack
    /// byte before writing it (`VerifiedProgram::reads_uninit_stack` is `None`)
    /// behaves the same on any stack contents. Checked-mode programs always
    /// get a zeroed stack.
    #[doc(hidden)]
    pub fn with_zeroed_stack(mut self, needed: bool) -> Program {
        self.zeroed_stack = needed || self.mode == SafetyMode::Checked;
        self
    }

    /// Whether a run must register the memory it lends (stack, context,
    /// packet, global data) as regions of its [`crate::RunState`]. Checked
    /// mode checks every access against them; in verified mode only the
    /// `probe_read` helpers ask them (whether the source may be read), so a
    /// verified program that calls none of those, makes no tail call (its
    /// target might) and no `callx` runs without them.
    pub fn needs_regions(&self) -> bool {
        self.needs_regions
    }

    /// Whether an engine must zero the stack before each run (every
    /// program but verified ones that never read stack they did not write).
    pub fn zeroed_stack(&self) -> bool {
        self.zeroed_stack
    }

    /// Attaches the table of maps the program was linked against: its
    /// `lddw` map handles are slots of `maps`. Engines may then resolve a
    /// handle at load time (the JIT inlines lookups in arrays, as the
    /// kernel's JIT does) and keep the maps alive with the code.
    pub fn with_maps(mut self, maps: Arc<crate::maps::LinkedMaps>) -> Program {
        self.maps = Some(maps);
        self
    }

    /// The attached table of maps ([`Program::with_maps`]).
    pub fn maps(&self) -> Option<&Arc<crate::maps::LinkedMaps>> {
        self.maps.as_ref()
    }

    /// The instructions, one per slot.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The helper table of the program's environment.
    pub fn helpers(&self) -> &Arc<HelperTable> {
        &self.helpers
    }

    /// The basic-block partition used to charge the budget.
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// The safety mode.
    pub fn mode(&self) -> SafetyMode {
        self.mode
    }
}

/// Whether a verified program may call a helper that consults the run's
/// regions ([`Program::needs_regions`]).
fn consults_regions(insns: &[Insn]) -> bool {
    use oxbpf_abi::helper::kernel::{PROBE_READ_KERNEL, PROBE_READ_USER, TAIL_CALL};
    insns.iter().any(|i| match i {
        Insn::Call(CallTarget::Helper(id)) => {
            [PROBE_READ_USER, PROBE_READ_KERNEL, TAIL_CALL].contains(&(*id as u32))
        }
        Insn::Call(CallTarget::Reg(_)) => true,
        _ => false,
    })
}
