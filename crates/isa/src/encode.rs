//! [`Insn`]s to raw instructions.

use crate::{Insn, RawInsn};

/// Encodes a slot-indexed program (as returned by [`crate::decode`]).
/// `encode(&decode(raw)?) == raw` for every valid `raw`.
pub fn encode(insns: &[Insn]) -> Vec<RawInsn> {
    todo!("isa: encode {}", insns.len())
}

/// Encodes to little-endian bytes.
pub fn encode_bytes(insns: &[Insn]) -> Vec<u8> {
    encode(insns).iter().flat_map(|r| r.to_bytes()).collect()
}
