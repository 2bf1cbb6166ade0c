//! Raw bytes to [`Insn`]s, with strict reserved-field and control-flow checks.

use crate::{DecodeError, Insn, RawInsn};

/// Decodes a program given as raw instructions. Checks every instruction's
/// opcode, registers and reserved fields, that `lddw` is complete, and that
/// every jump and local call lands inside the program and not inside an
/// `lddw`. The result has one [`Insn`] per slot.
pub fn decode(raw: &[RawInsn]) -> Result<Vec<Insn>, DecodeError> {
    todo!("isa: decode {}", raw.len())
}

/// Decodes a program from bytes (a multiple of 8, little-endian).
pub fn decode_bytes(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    todo!("isa: decode_bytes {}", bytes.len())
}
