//! The RFC 9669 eBPF instruction set.
//!
//! This crate is the bottom of oxbpf: it knows what an instruction *is* and
//! nothing about what it *does*. It provides
//!
//! - [`Insn`], a typed instruction, and [`RawInsn`], the 8-byte wire form;
//! - [`decode()`] / [`encode()`] between the two, with strict checks of reserved
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
//! - Where RFC 9669 is silent the kernel's verifier decides what is valid
//!   (for example `neg` takes no operand, `lddw` map references by fd leave
//!   the second immediate zero). `callx` (opcode `0x8d`, not in the RFC)
//!   keeps its register in `dst`, as gcc, LLVM 19+ and the bpf_conformance
//!   assembler encode it.
//!
//! # Testing and fuzzing
//!
//! `cargo test -p oxbpf-isa` runs hand-written encodings per instruction
//! class, the conformance suite (one test case per data file:
//! `cargo test -p oxbpf-isa --test suite -- lddw`), and property tests
//! (`PROPTEST_CASES=100000` for a longer run).
//!
//! Two cargo-fuzz targets live in `fuzz/` (its own workspace): `decode`
//! (bytes into the decoder; what decodes must re-encode to the same bytes
//! and survive disassembly and reassembly) and `assemble` (text into the
//! assembler; what assembles must decode and round-trip the same way).
//! cargo-fuzz needs nightly flags, which the stable toolchain accepts with
//! `RUSTC_BOOTSTRAP=1`:
//!
//! ```text
//! cargo install cargo-fuzz
//! cargo run -p oxbpf-isa --example fuzz_seeds -- ../shared/conformance/bpf_conformance fuzz/corpus
//! cd fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a decode -- -max_total_time=600
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a assemble -- -max_total_time=600
//! ```
//!
//! A crash is saved under `fuzz/artifacts/<target>/`; replay it with
//! `cargo fuzz run -O -a <target> <file>` and add a regression test named
//! after what broke.

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
