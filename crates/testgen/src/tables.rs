//! The instruction set as lists to draw from (RFC 9669 section 4), and
//! small instruction constructors.

use oxbpf_isa::{AluOp, AtomicOp, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width};

/// Registers by number.
pub const R: [Reg; 11] = [
    Reg::R0,
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
    Reg::R7,
    Reg::R8,
    Reg::R9,
    Reg::R10,
];

/// Every arithmetic operation (RFC 9669 section 4.1), sign-extending moves
/// included.
pub const ALU_OPS: [AluOp; 18] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Neg,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::MovSx8,
    AluOp::MovSx16,
    AluOp::MovSx32,
    AluOp::Arsh,
];

/// Every jump condition (RFC 9669 section 4.3).
pub const CONDS: [JmpCond; 11] = [
    JmpCond::Eq,
    JmpCond::Gt,
    JmpCond::Ge,
    JmpCond::Set,
    JmpCond::Ne,
    JmpCond::Sgt,
    JmpCond::Sge,
    JmpCond::Lt,
    JmpCond::Le,
    JmpCond::Slt,
    JmpCond::Sle,
];

/// Every access size.
pub const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

/// Every atomic operation (RFC 9669 section 5.3); `Xchg` and `CmpXchg`
/// always fetch.
pub const ATOMIC_OPS: [AtomicOp; 6] = [
    AtomicOp::Add,
    AtomicOp::Or,
    AtomicOp::And,
    AtomicOp::Xor,
    AtomicOp::Xchg,
    AtomicOp::CmpXchg,
];

/// `dst = op(dst, src)` of `width`.
pub fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

/// `mov dst, imm` (64-bit).
pub fn mov_imm(dst: Reg, imm: i32) -> Insn {
    alu(Width::W64, AluOp::Mov, dst, Operand::Imm(imm))
}

/// `lddw dst, v`: both slots.
pub fn lddw(dst: Reg, v: u64) -> [Insn; 2] {
    [
        Insn::Lddw {
            dst,
            src: LddwSrc::Imm,
            imm: v,
        },
        Insn::LddwHi,
    ]
}
