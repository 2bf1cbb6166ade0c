//! The reference interpreter.
//!
//! Simple and obviously correct first: it executes the decoded [`Insn`]s
//! directly, with exact RFC 9669 semantics (see `../../shared` notes and the
//! architecture's "semantics that are easy to get wrong").

use oxbpf_runtime::{Engine, EngineError, Executable, Program};

/// The interpreter engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Interpreter;

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError> {
        todo!("interp: load {} insns", program.insns().len())
    }
}
