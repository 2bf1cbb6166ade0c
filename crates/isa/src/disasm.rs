//! The disassembler, producing text [`crate::asm::assemble`] accepts.

use crate::Insn;

/// Formats one instruction located at slot `pc`.
pub fn format_insn(insn: &Insn, pc: usize) -> String {
    todo!("isa: format_insn {insn:?} {pc}")
}

/// Disassembles a program, one instruction per line, with labels for jump
/// and call targets so that reassembly gives the same bytes.
pub fn disassemble(insns: &[Insn]) -> String {
    todo!("isa: disassemble {}", insns.len())
}
