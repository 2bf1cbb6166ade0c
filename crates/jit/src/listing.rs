//! Listings of generated code: each eBPF instruction with the x86-64
//! instructions it became, for `oxbpf disasm --jit`.

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use oxbpf_isa::Insn;
use oxbpf_isa::disasm::format_insn;
use oxbpf_runtime::{EngineError, Program};

use crate::codegen::JitOptions;
use crate::codegen::{self, Compiled};
use crate::frames::frames;

/// One x86-64 instruction of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X86Line {
    /// Offset from the start of the generated code.
    pub offset: usize,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// Intel syntax; branch targets are offsets from the start of the code.
    pub text: String,
}

/// One eBPF instruction and the code generated for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsnListing {
    /// Slot index of the instruction.
    pub slot: usize,
    /// The instruction in the assembler's dialect
    /// ([`oxbpf_isa::disasm::format_insn`]).
    pub text: String,
    /// The x86-64 code in the order it runs: in checked mode a block's
    /// first instruction starts with the budget charge.
    pub x86: Vec<X86Line>,
    /// The earlier slot whose code also computes this instruction (a
    /// `mov` and the `add`s after it become one `lea`); `x86` is then
    /// empty.
    pub fused_into: Option<usize>,
}

/// The whole generated code of a program, split by origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitListing {
    /// Entry and exit code shared by every run (register setup, the trap
    /// exit).
    pub prologue: Vec<X86Line>,
    /// One entry per instruction (the second slot of an `lddw` has none).
    pub insns: Vec<InsnListing>,
    /// Code out of the straight-line path: trap stubs, slow memory checks,
    /// helper status handling.
    pub out_of_line: Vec<X86Line>,
    /// Total size of the code in bytes.
    pub code_len: usize,
}

/// Compiles `program` as [`crate::Jit`] would and lists the result.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use oxbpf_isa::Insn;
/// # use oxbpf_runtime::{HelperTable, Program, SafetyMode};
/// # let program = Program::new_unchecked(vec![Insn::Exit], Arc::new(HelperTable::new("none")), SafetyMode::Checked);
/// let listing = oxbpf_jit::disassemble_jit(&program).unwrap();
/// for insn in &listing.insns {
///     println!("{:4}: {}", insn.slot, insn.text);
///     for line in &insn.x86 {
///         println!("        {:6x}  {}", line.offset, line.text);
///     }
/// }
/// ```
pub fn disassemble_jit(program: &Program) -> Result<JitListing, EngineError> {
    let compiled = codegen::compile(program, frames(program), JitOptions::host())?;
    Ok(listing(program.insns(), &compiled))
}

fn listing(insns: &[Insn], c: &Compiled) -> JitListing {
    let code = &c.code;
    let first = c.slot_offsets.first().copied().unwrap_or(c.slots_end);
    let mut out = JitListing {
        prologue: decode(code, 0, first),
        insns: Vec::new(),
        out_of_line: decode(code, c.slots_end, code.len()),
        code_len: code.len(),
    };
    for (slot, insn) in insns.iter().enumerate() {
        if matches!(insn, Insn::LddwHi) {
            continue;
        }
        let start = c.slot_offsets[slot];
        let end = c.slot_offsets.get(slot + 1).copied().unwrap_or(c.slots_end);
        out.insns.push(InsnListing {
            slot,
            text: format_insn(insn, slot),
            x86: decode(code, start, end),
            fused_into: c.fused_into[slot],
        });
    }
    out
}

fn decode(code: &[u8], start: usize, end: usize) -> Vec<X86Line> {
    let bytes = &code[start..end];
    let mut decoder = Decoder::with_ip(64, bytes, start as u64, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let mut lines = Vec::new();
    for ins in &mut decoder {
        let mut text = String::new();
        formatter.format(&ins, &mut text);
        let offset = ins.ip() as usize;
        lines.push(X86Line {
            offset,
            bytes: code[offset..offset + ins.len()].to_vec(),
            text,
        });
    }
    lines
}
