//! The disassembler, producing text [`crate::asm::assemble`] accepts.
//!
//! The dialect is the bpf_conformance suite's (`mov32 %r0, 1`,
//! `ldxw %r1, [%r1+4]`, `lock fetch add [%r10-8], %r1`, `call local f`),
//! extended for what the suite never spells: `lddw %r1, map_fd 3` and the
//! other pseudo sources, `call runtime N` for kfuncs (the suite assembler's
//! keyword), and `ldabsw 12` / `ldindw %r1, 12` for legacy packet loads.

use core::fmt::Write;

use crate::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};

/// Formats one instruction located at slot `pc`. Jump and call targets are
/// written as relative offsets (`+3`, `-1`), which the assembler accepts.
/// [`Insn::LddwHi`] formats as a comment, since it is not an instruction.
///
/// ```
/// use oxbpf_isa::{disasm::format_insn, Insn};
/// assert_eq!(format_insn(&Insn::Ja { off: -2, wide: false }, 7), "ja -2");
/// ```
pub fn format_insn(insn: &Insn, pc: usize) -> String {
    let _ = pc;
    format_with(insn, &|off| format!("{off:+}"))
}

/// Disassembles a program, one instruction per line, with labels for jump
/// and call targets so that reassembly gives the same bytes.
///
/// Targets are named `L<slot>`, or `fn<slot>` when a local call or an
/// `lddw ... func` points there. A target outside the program (which
/// [`crate::decode()`] would have refused) is written as a relative offset.
///
/// ```
/// use oxbpf_isa::{asm::assemble, disasm::disassemble, encode};
/// let p = assemble("ja +1\nexit\nexit").unwrap();
/// let text = disassemble(&p);
/// assert_eq!(text, "ja L2\nexit\nL2:\nexit\n");
/// assert_eq!(encode(&assemble(&text).unwrap()), encode(&p));
/// ```
pub fn disassemble(insns: &[Insn]) -> String {
    let names = label_names(insns);
    let mut out = String::new();
    for (pc, insn) in insns.iter().enumerate() {
        if let Some(name) = &names[pc] {
            let _ = writeln!(out, "{name}:");
        }
        if matches!(insn, Insn::LddwHi) {
            continue;
        }
        let text = format_with(insn, &|off| {
            let target = pc as i64 + 1 + off;
            usize::try_from(target)
                .ok()
                .and_then(|t| names.get(t))
                .and_then(|n| n.clone())
                .unwrap_or_else(|| format!("{off:+}"))
        });
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// One optional label per slot: slots that some instruction targets.
fn label_names(insns: &[Insn]) -> Vec<Option<String>> {
    let mut func = vec![false; insns.len()];
    let mut jump = vec![false; insns.len()];
    for (pc, insn) in insns.iter().enumerate() {
        let Some(t) = insn.branch_target(pc) else {
            continue;
        };
        let Ok(t) = usize::try_from(t) else { continue };
        // A label at the second half of an lddw would bind to the next
        // instruction instead; such targets (invalid anyway) stay offsets.
        if t >= insns.len() || matches!(insns[t], Insn::LddwHi) {
            continue;
        }
        match insn {
            Insn::Call(_) | Insn::Lddw { .. } => func[t] = true,
            _ => jump[t] = true,
        }
    }
    (0..insns.len())
        .map(|t| {
            if func[t] {
                Some(format!("fn{t}"))
            } else if jump[t] {
                Some(format!("L{t}"))
            } else {
                None
            }
        })
        .collect()
}

/// Formats with `target` turning a relative jump offset into text.
fn format_with(insn: &Insn, target: &dyn Fn(i64) -> String) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let (name, movsx) = alu_name(op);
            let suffix = match width {
                Width::W32 => "32",
                Width::W64 if movsx => "64",
                Width::W64 => "",
            };
            match (op, src) {
                (AluOp::Neg, _) => format!("{name}{suffix} {dst}"),
                (_, src) => format!("{name}{suffix} {dst}, {}", operand(src)),
            }
        }
        Insn::End { kind, bits, dst } => {
            let name = match kind {
                Endian::ToLe => "le",
                Endian::ToBe => "be",
                Endian::Swap => "bswap",
            };
            format!("{name}{bits} {dst}")
        }
        Insn::Ja { off, wide } => {
            let name = if wide { "ja32" } else { "ja" };
            format!("{name} {}", target(off as i64))
        }
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let suffix = if width == Width::W32 { "32" } else { "" };
            format!(
                "{}{suffix} {dst}, {}, {}",
                jmp_name(cond),
                operand(src),
                target(off as i64)
            )
        }
        Insn::Call(CallTarget::Helper(id)) => format!("call {id}"),
        Insn::Call(CallTarget::Local(off)) => format!("call local {}", target(off as i64)),
        Insn::Call(CallTarget::Kfunc(id)) => format!("call runtime {id}"),
        Insn::Call(CallTarget::Reg(r)) => format!("call {r}"),
        Insn::Exit => "exit".to_string(),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let s = if signed { "s" } else { "" };
            format!("ldx{s}{} {dst}, {}", size_name(size), mem(src, off))
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Imm(imm) => format!("st{} {}, {}", size_name(size), mem(dst, off), imm32(imm)),
            Operand::Reg(r) => format!("stx{} {}, {r}", size_name(size), mem(dst, off)),
        },
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        } => {
            let name = match op {
                AtomicOp::Add => "add",
                AtomicOp::Or => "or",
                AtomicOp::And => "and",
                AtomicOp::Xor => "xor",
                AtomicOp::Xchg => "xchg",
                AtomicOp::CmpXchg => "cmpxchg",
            };
            // xchg and cmpxchg always fetch; the suite writes them bare.
            let fetch = if fetch && !matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) {
                "fetch "
            } else {
                ""
            };
            let suffix = if size == Size::W { "32" } else { "" };
            format!("lock {fetch}{name}{suffix} {}, {src}", mem(dst, off))
        }
        Insn::Lddw { dst, src, imm } => {
            let lo = imm as u32 as i32;
            let hi = (imm >> 32) as u32 as i32;
            let (kind, first) = match src {
                LddwSrc::Imm => return format!("lddw {dst}, {}", imm64(imm)),
                LddwSrc::MapFd => ("map_fd", imm32(lo)),
                LddwSrc::MapValue => ("map_value", imm32(lo)),
                LddwSrc::BtfId => ("btf_id", imm32(lo)),
                LddwSrc::Func => ("func", target(lo as i64)),
                LddwSrc::MapIdx => ("map_idx", imm32(lo)),
                LddwSrc::MapIdxValue => ("map_idx_value", imm32(lo)),
            };
            // The second immediate is an offset for the *_value forms and
            // is printed for them always, for the others only when set.
            if hi != 0 || matches!(src, LddwSrc::MapValue | LddwSrc::MapIdxValue) {
                format!("lddw {dst}, {kind} {first}, {}", imm32(hi))
            } else {
                format!("lddw {dst}, {kind} {first}")
            }
        }
        Insn::LddwHi => "# (second slot of lddw)".to_string(),
        Insn::LdPacket { size, src, imm } => match src {
            None => format!("ldabs{} {}", size_name(size), imm32(imm)),
            Some(r) => format!("ldind{} {r}, {}", size_name(size), imm32(imm)),
        },
    }
}

/// The mnemonic stem of an ALU operation and whether it is a `movsx`, whose
/// mnemonics carry both widths (`movsx832`: 8-bit source, 32-bit class).
fn alu_name(op: AluOp) -> (&'static str, bool) {
    match op {
        AluOp::Add => ("add", false),
        AluOp::Sub => ("sub", false),
        AluOp::Mul => ("mul", false),
        AluOp::Div => ("div", false),
        AluOp::SDiv => ("sdiv", false),
        AluOp::Or => ("or", false),
        AluOp::And => ("and", false),
        AluOp::Lsh => ("lsh", false),
        AluOp::Rsh => ("rsh", false),
        AluOp::Neg => ("neg", false),
        AluOp::Mod => ("mod", false),
        AluOp::SMod => ("smod", false),
        AluOp::Xor => ("xor", false),
        AluOp::Mov => ("mov", false),
        AluOp::MovSx8 => ("movsx8", true),
        AluOp::MovSx16 => ("movsx16", true),
        AluOp::MovSx32 => ("movsx32", true),
        AluOp::Arsh => ("arsh", false),
    }
}

/// The mnemonic of a jump condition, without the `32` suffix.
pub(crate) fn jmp_name(cond: JmpCond) -> &'static str {
    match cond {
        JmpCond::Eq => "jeq",
        JmpCond::Gt => "jgt",
        JmpCond::Ge => "jge",
        JmpCond::Set => "jset",
        JmpCond::Ne => "jne",
        JmpCond::Sgt => "jsgt",
        JmpCond::Sge => "jsge",
        JmpCond::Lt => "jlt",
        JmpCond::Le => "jle",
        JmpCond::Slt => "jslt",
        JmpCond::Sle => "jsle",
    }
}

fn size_name(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn operand(src: Operand) -> String {
    match src {
        Operand::Reg(r) => r.to_string(),
        Operand::Imm(imm) => imm32(imm),
    }
}

/// `[%rN+off]`, `[%rN-off]` or `[%rN]`.
fn mem(base: Reg, off: i16) -> String {
    if off == 0 {
        format!("[{base}]")
    } else {
        format!("[{base}{off:+}]")
    }
}

/// Small immediates in decimal, large ones as 32-bit hex (read back as the
/// same bit pattern).
fn imm32(imm: i32) -> String {
    if (-0x10000..=0x10000).contains(&imm) {
        imm.to_string()
    } else {
        format!("{:#x}", imm as u32)
    }
}

fn imm64(imm: u64) -> String {
    if imm <= 0x10000 {
        imm.to_string()
    } else {
        format!("{imm:#x}")
    }
}
