//! The assembler for the bpf_conformance text dialect.

use crate::{AsmError, Insn};

/// Assembles source text into a slot-indexed program.
pub fn assemble(source: &str) -> Result<Vec<Insn>, AsmError> {
    todo!("isa: assemble {}", source.len())
}
