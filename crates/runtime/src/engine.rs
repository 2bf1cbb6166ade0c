//! The `Engine` trait every execution engine implements.

use core::fmt;

use oxbpf_abi::Trap;

use crate::program::Program;
use crate::state::RunState;

/// A run that ended with a trap, at slot `pc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trapped {
    pub trap: Trap,
    pub pc: usize,
}

impl fmt::Display for Trapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.trap)
    }
}

impl std::error::Error for Trapped {}

/// Why an engine could not load a program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine cannot execute this instruction.
    #[error("{engine}: insn {index}: {what} is not supported")]
    Unsupported {
        engine: &'static str,
        index: usize,
        what: &'static str,
    },
    /// The engine lacks a resource (executable memory, a kernel feature,
    /// privileges).
    #[error("{engine}: {reason}")]
    Resource {
        engine: &'static str,
        reason: String,
    },
    /// The engine's own checker refused the program (the kernel verifier,
    /// for the `kernel` engine); `reason` carries its log.
    #[error("{engine}: program rejected: {reason}")]
    Rejected {
        engine: &'static str,
        reason: String,
    },
}

/// An execution engine: turns a [`Program`] into something runnable.
pub trait Engine: Send + Sync + fmt::Debug {
    /// Short name: `interp`, `jit`, `kernel`.
    fn name(&self) -> &'static str;

    /// Prepares a program (decode once, compile, load into the kernel...).
    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError>;
}

/// A program loaded into an engine, runnable many times, from several
/// threads at once (each with its own [`RunState`]).
pub trait Executable: Send + Sync + fmt::Debug {
    /// Runs once with `args` in `r1`..`r5` and returns `r0`. In checked
    /// mode, loads and stores are checked against `state.regions` (plus the
    /// engine's own stack) and the budget in `state.budget` is charged per
    /// basic block.
    fn run(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped>;
}
