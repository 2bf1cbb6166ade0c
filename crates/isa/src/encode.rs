//! [`Insn`]s to raw instructions.

use crate::opcode::*;
use crate::{AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, Operand, RawInsn, Size, Width};

/// Encodes a slot-indexed program (as returned by [`crate::decode()`]).
/// `encode(&decode(raw)?) == raw` for every valid `raw`.
///
/// The output has one [`RawInsn`] per input slot: [`Insn::LddwHi`] takes the
/// high half of the preceding [`Insn::Lddw`]. A malformed slice (an `LddwHi`
/// not after an `Lddw`, an `Lddw` without its `LddwHi`) still encodes, into
/// bytes that [`crate::decode()`] rejects.
///
/// ```
/// use oxbpf_isa::{encode, Insn};
/// assert_eq!(encode(&[Insn::Exit])[0].to_u64(), 0x95);
/// ```
pub fn encode(insns: &[Insn]) -> Vec<RawInsn> {
    insns
        .iter()
        .enumerate()
        .map(|(i, insn)| match insn {
            Insn::LddwHi => match i.checked_sub(1).map(|p| &insns[p]) {
                Some(Insn::Lddw { imm, .. }) => RawInsn {
                    imm: (imm >> 32) as u32 as i32,
                    ..RawInsn::default()
                },
                _ => RawInsn::default(),
            },
            _ => encode_insn(insn),
        })
        .collect()
}

/// Encodes to little-endian bytes.
pub fn encode_bytes(insns: &[Insn]) -> Vec<u8> {
    encode(insns).iter().flat_map(|r| r.to_bytes()).collect()
}

/// Encodes one instruction. For [`Insn::Lddw`] this is the first slot only
/// (the second is [`Insn::LddwHi`]'s, which needs the `Lddw` before it);
/// `LddwHi` on its own encodes as an all-zero slot.
pub fn encode_insn(insn: &Insn) -> RawInsn {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let class = match width {
                Width::W32 => BPF_ALU,
                Width::W64 => BPF_ALU64,
            };
            // Signed division and sign-extending moves are `off` variants of
            // the plain operations (RFC 9669 §4.1).
            let (code, off) = match op {
                AluOp::Add => (BPF_ADD, 0),
                AluOp::Sub => (BPF_SUB, 0),
                AluOp::Mul => (BPF_MUL, 0),
                AluOp::Div => (BPF_DIV, 0),
                AluOp::SDiv => (BPF_DIV, 1),
                AluOp::Or => (BPF_OR, 0),
                AluOp::And => (BPF_AND, 0),
                AluOp::Lsh => (BPF_LSH, 0),
                AluOp::Rsh => (BPF_RSH, 0),
                AluOp::Neg => (BPF_NEG, 0),
                AluOp::Mod => (BPF_MOD, 0),
                AluOp::SMod => (BPF_MOD, 1),
                AluOp::Xor => (BPF_XOR, 0),
                AluOp::Mov => (BPF_MOV, 0),
                AluOp::MovSx8 => (BPF_MOV, 8),
                AluOp::MovSx16 => (BPF_MOV, 16),
                AluOp::MovSx32 => (BPF_MOV, 32),
                AluOp::Arsh => (BPF_ARSH, 0),
            };
            let (srcbit, src, imm) = operand(src);
            RawInsn {
                opcode: class | code | srcbit,
                dst: dst.num(),
                src,
                off,
                imm,
            }
        }
        Insn::End { kind, bits, dst } => {
            let opcode = match kind {
                Endian::ToLe => BPF_ALU | BPF_END | BPF_K,
                Endian::ToBe => BPF_ALU | BPF_END | BPF_X,
                Endian::Swap => BPF_ALU64 | BPF_END | BPF_K,
            };
            RawInsn {
                opcode,
                dst: dst.num(),
                imm: bits as i32,
                ..RawInsn::default()
            }
        }
        Insn::Ja { off, wide: false } => RawInsn {
            opcode: BPF_JMP | BPF_JA,
            off: off as i16,
            ..RawInsn::default()
        },
        Insn::Ja { off, wide: true } => RawInsn {
            opcode: BPF_JMP32 | BPF_JA,
            imm: off,
            ..RawInsn::default()
        },
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let class = match width {
                Width::W32 => BPF_JMP32,
                Width::W64 => BPF_JMP,
            };
            let code = match cond {
                JmpCond::Eq => BPF_JEQ,
                JmpCond::Gt => BPF_JGT,
                JmpCond::Ge => BPF_JGE,
                JmpCond::Set => BPF_JSET,
                JmpCond::Ne => BPF_JNE,
                JmpCond::Sgt => BPF_JSGT,
                JmpCond::Sge => BPF_JSGE,
                JmpCond::Lt => BPF_JLT,
                JmpCond::Le => BPF_JLE,
                JmpCond::Slt => BPF_JSLT,
                JmpCond::Sle => BPF_JSLE,
            };
            let (srcbit, src, imm) = operand(src);
            RawInsn {
                opcode: class | code | srcbit,
                dst: dst.num(),
                src,
                off,
                imm,
            }
        }
        Insn::Call(target) => {
            let call = BPF_JMP | BPF_CALL;
            let (src, imm) = match target {
                CallTarget::Helper(id) => (0, id),
                CallTarget::Local(off) => (1, off),
                CallTarget::Kfunc(id) => (2, id),
                // callx keeps its register in dst (see decode_call).
                CallTarget::Reg(r) => {
                    return RawInsn {
                        opcode: call | BPF_X,
                        dst: r.num(),
                        ..RawInsn::default()
                    };
                }
            };
            RawInsn {
                opcode: call,
                src,
                imm,
                ..RawInsn::default()
            }
        }
        Insn::Exit => RawInsn {
            opcode: BPF_JMP | BPF_EXIT,
            ..RawInsn::default()
        },
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => RawInsn {
            opcode: BPF_LDX | size_bits(size) | if signed { BPF_MEMSX } else { BPF_MEM },
            dst: dst.num(),
            src: src.num(),
            off,
            imm: 0,
        },
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Imm(imm) => RawInsn {
                opcode: BPF_ST | BPF_MEM | size_bits(size),
                dst: dst.num(),
                src: 0,
                off,
                imm,
            },
            Operand::Reg(r) => RawInsn {
                opcode: BPF_STX | BPF_MEM | size_bits(size),
                dst: dst.num(),
                src: r.num(),
                off,
                imm: 0,
            },
        },
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        } => {
            let fetch = if fetch { BPF_FETCH } else { 0 };
            let imm = match op {
                AtomicOp::Add => BPF_ADD as i32 | fetch,
                AtomicOp::Or => BPF_OR as i32 | fetch,
                AtomicOp::And => BPF_AND as i32 | fetch,
                AtomicOp::Xor => BPF_XOR as i32 | fetch,
                // These always fetch; `fetch` is implied.
                AtomicOp::Xchg => BPF_XCHG,
                AtomicOp::CmpXchg => BPF_CMPXCHG,
            };
            RawInsn {
                opcode: BPF_STX | BPF_ATOMIC | size_bits(size),
                dst: dst.num(),
                src: src.num(),
                off,
                imm,
            }
        }
        Insn::Lddw { dst, src, imm } => RawInsn {
            opcode: BPF_LD | BPF_IMM | BPF_DW,
            dst: dst.num(),
            src: src.code(),
            off: 0,
            imm: imm as u32 as i32,
        },
        Insn::LddwHi => RawInsn::default(),
        Insn::LdPacket { size, src, imm } => RawInsn {
            opcode: BPF_LD | size_bits(size) | if src.is_some() { BPF_IND } else { BPF_ABS },
            dst: 0,
            src: src.map_or(0, |r| r.num()),
            off: 0,
            imm,
        },
    }
}

/// The source bit, `src` field and `imm` field for an operand.
fn operand(src: Operand) -> (u8, u8, i32) {
    match src {
        Operand::Reg(r) => (BPF_X, r.num(), 0),
        Operand::Imm(imm) => (BPF_K, 0, imm),
    }
}

fn size_bits(size: Size) -> u8 {
    match size {
        Size::B => BPF_B,
        Size::H => BPF_H,
        Size::W => BPF_W,
        Size::DW => BPF_DW,
    }
}
