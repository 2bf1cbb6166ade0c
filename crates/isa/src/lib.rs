//! The RFC 9669 eBPF instruction set.
//!
//! This crate is the bottom of oxbpf: it knows what an instruction *is* and
//! nothing about what it *does*. It provides
//!
//! - [`Insn`], a typed instruction, and [`RawInsn`], the 8-byte wire form;
//! - [`decode`] / [`encode`] between the two, with strict checks of reserved
//!   fields (RFC 9669 §3: fields an opcode does not use must be zero);
//! - [`asm`] and [`disasm`], the text dialect of the bpf_conformance suite.
//!
//! Design decisions:
//!
//! - A program is a slice of [`Insn`] indexed by *slot*, exactly like the
//!   kernel's `struct bpf_insn` array: the 16-byte `lddw` occupies two slots,
//!   the second holding [`Insn::LddwHi`]. Jump offsets and call targets are
//!   therefore the raw ones, and index arithmetic is the same everywhere.
//! - No dependencies, so every other crate can use it.

pub mod asm;
pub mod decode;
pub mod disasm;
pub mod encode;
pub mod error;
pub mod insn;
pub mod opcode;

pub use decode::{decode, decode_bytes};
pub use encode::{encode, encode_bytes};
pub use error::{AsmError, DecodeError};
pub use insn::*;
