//! A faster interpreter over pre-decoded instructions.
//!
//! [`FastInterpreter`] translates the decoded [`Insn`]s once, at load, into
//! a flat array of 16-byte ops with one dense opcode per (operation,
//! width, operand kind): jump targets become absolute slots, immediates are
//! stored ready to use, and each op carries the budget cost of the block it
//! starts. The loop is a single `match` (one indirect jump per
//! instruction) and is compiled twice, with and without checked mode's
//! memory checks and budget.
//!
//! The value semantics are the reference interpreter's own functions
//! ([`crate::semantics`]) called with constant operations, and the stack,
//! call and helper machinery is shared with it; `tests/lockstep.rs` runs
//! both engines on the conformance suite and on random programs and
//! requires identical results, traps, budgets and memory.

use core::ops::{Index, IndexMut};

use oxbpf_abi::Trap;
use oxbpf_abi::limits::{CHECKED_MAX_FRAMES, STACK_PER_FRAME};
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};
use oxbpf_runtime::{
    Engine, EngineError, Executable, HelperTable, Program, RunState, SafetyMode, Trapped,
};

use crate::exec::{self, Called, Frame, trapped};
use crate::memory;
use crate::semantics::{alu32, alu64, cond32, cond64};

/// The pre-decoding interpreter engine (`interp-fast`).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastInterpreter;

impl FastInterpreter {
    /// Pre-decodes `program`. Never fails: instructions without a meaning
    /// here become ops that trap like the reference interpreter does.
    pub fn prepare(&self, program: &Program) -> FastProgram {
        FastProgram {
            ops: predecode(program),
            program: program.clone(),
        }
    }
}

impl Engine for FastInterpreter {
    fn name(&self) -> &'static str {
        "interp-fast"
    }

    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError> {
        Ok(Box::new(self.prepare(program)))
    }
}

/// A program loaded into the [`FastInterpreter`].
#[derive(Debug, Clone)]
pub struct FastProgram {
    program: Program,
    /// One op per slot, plus a trailing op that traps (reached only by a
    /// program built without the load checks that falls off its end).
    ops: Box<[Op]>,
}

impl FastProgram {
    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }
}

impl Executable for FastProgram {
    fn run(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        // Tail calls: see oxbpf_runtime::tail_call.
        oxbpf_runtime::tail_call::drive(state, args, |state, args| self.run_once(state, args))
    }
}

impl FastProgram {
    /// One program of a tail-call chain.
    fn run_once(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        let mode = self.program.mode();
        exec::with_stack(mode, state, |state, top, frames| match mode {
            SafetyMode::Checked => interpret::<true>(self, state, args, top, frames),
            SafetyMode::Verified => interpret::<false>(self, state, args, top, frames),
        })
    }
}

/// A pre-decoded instruction.
#[derive(Clone, Copy, Debug)]
struct Op {
    /// What to do; [`Code::Charge`] at a block leader in checked mode.
    code: Code,
    /// The instruction's own code when `code` is [`Code::Charge`].
    inner: Code,
    dst: RegIdx,
    src: RegIdx,
    /// Memory offset (sign-extended), or the absolute target slot of a
    /// jump or local call.
    off: i32,
    /// The immediate; for `lddw` the low half (the high half is in the
    /// next slot's op); for atomics the operation (see [`atomic_code`]).
    imm: i32,
    /// Budget cost of the block starting here, 0 if none does.
    cost: u32,
}

/// A register number, `0..=10` by construction (only made from a
/// [`Reg`]), so that indexing [`Regs`] with it needs no bounds check.
#[derive(Clone, Copy, Debug)]
struct RegIdx(u8);

impl RegIdx {
    const R0: RegIdx = RegIdx(0);

    fn new(r: Reg) -> RegIdx {
        RegIdx(r.num())
    }
}

/// The eleven registers.
struct Regs([u64; 11]);

impl Index<RegIdx> for Regs {
    type Output = u64;

    #[inline(always)]
    fn index(&self, i: RegIdx) -> &u64 {
        // SAFETY: a RegIdx is at most 10 (it comes from a `Reg`).
        unsafe { self.0.get_unchecked(usize::from(i.0)) }
    }
}

impl IndexMut<RegIdx> for Regs {
    #[inline(always)]
    fn index_mut(&mut self, i: RegIdx) -> &mut u64 {
        // SAFETY: as for `index`.
        unsafe { self.0.get_unchecked_mut(usize::from(i.0)) }
    }
}

impl Index<usize> for Regs {
    type Output = u64;

    #[inline(always)]
    fn index(&self, i: usize) -> &u64 {
        &self.0[i]
    }
}

impl IndexMut<usize> for Regs {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut u64 {
        &mut self.0[i]
    }
}

/// Dense opcodes: `<op><width><X = register | K = immediate>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Code {
    Add64X,
    Add64K,
    Sub64X,
    Sub64K,
    Mul64X,
    Mul64K,
    Div64X,
    Div64K,
    SDiv64X,
    SDiv64K,
    Or64X,
    Or64K,
    And64X,
    And64K,
    Lsh64X,
    Lsh64K,
    Rsh64X,
    Rsh64K,
    Mod64X,
    Mod64K,
    SMod64X,
    SMod64K,
    Xor64X,
    Xor64K,
    Mov64X,
    Mov64K,
    Arsh64X,
    Arsh64K,
    Add32X,
    Add32K,
    Sub32X,
    Sub32K,
    Mul32X,
    Mul32K,
    Div32X,
    Div32K,
    SDiv32X,
    SDiv32K,
    Or32X,
    Or32K,
    And32X,
    And32K,
    Lsh32X,
    Lsh32K,
    Rsh32X,
    Rsh32K,
    Mod32X,
    Mod32K,
    SMod32X,
    SMod32K,
    Xor32X,
    Xor32K,
    Mov32X,
    Mov32K,
    Arsh32X,
    Arsh32K,
    Neg64,
    Neg32,
    MovSx8_64,
    MovSx16_64,
    MovSx32_64,
    MovSx8_32,
    MovSx16_32,
    Le16,
    Le32,
    Swap16,
    Swap32,
    Swap64,
    Nop,
    Ja,
    JEq64X,
    JEq64K,
    JGt64X,
    JGt64K,
    JGe64X,
    JGe64K,
    JSet64X,
    JSet64K,
    JNe64X,
    JNe64K,
    JSgt64X,
    JSgt64K,
    JSge64X,
    JSge64K,
    JLt64X,
    JLt64K,
    JLe64X,
    JLe64K,
    JSlt64X,
    JSlt64K,
    JSle64X,
    JSle64K,
    JEq32X,
    JEq32K,
    JGt32X,
    JGt32K,
    JGe32X,
    JGe32K,
    JSet32X,
    JSet32K,
    JNe32X,
    JNe32K,
    JSgt32X,
    JSgt32K,
    JSge32X,
    JSge32K,
    JLt32X,
    JLt32K,
    JLe32X,
    JLe32K,
    JSlt32X,
    JSlt32K,
    JSle32X,
    JSle32K,
    CallHelper,
    CallX,
    CallLocal,
    Exit,
    LdB,
    LdH,
    LdW,
    LdDW,
    LdSB,
    LdSH,
    LdSW,
    StB,
    StH,
    StW,
    StDW,
    StxB,
    StxH,
    StxW,
    StxDW,
    AtomicW,
    AtomicDW,
    Lddw,
    Unsupported,
    /// Charge the block's cost to the budget, then run `inner`.
    Charge,
}

fn atomic_code(op: AtomicOp, fetch: bool) -> i32 {
    let n = match op {
        AtomicOp::Add => 0,
        AtomicOp::Or => 1,
        AtomicOp::And => 2,
        AtomicOp::Xor => 3,
        AtomicOp::Xchg => 4,
        AtomicOp::CmpXchg => 5,
    };
    n | (i32::from(fetch) << 8)
}

#[inline(always)]
fn atomic_op(code: i32) -> AtomicOp {
    match code & 0xff {
        0 => AtomicOp::Add,
        1 => AtomicOp::Or,
        2 => AtomicOp::And,
        3 => AtomicOp::Xor,
        4 => AtomicOp::Xchg,
        _ => AtomicOp::CmpXchg,
    }
}

fn alu_code(width: Width, op: AluOp, src: Operand) -> (Code, RegIdx, i32) {
    let (reg, s, imm) = match src {
        Operand::Reg(r) => (true, RegIdx::new(r), 0),
        Operand::Imm(i) => (false, RegIdx::R0, i),
    };
    let code = match (width, op, src) {
        (Width::W64, AluOp::Neg, _) => Code::Neg64,
        (Width::W32, AluOp::Neg, _) => Code::Neg32,
        // movsx of an immediate (only hand-built programs have one) is a
        // mov of the already extended value.
        (_, AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, Operand::Imm(_)) => {
            let v = match width {
                Width::W64 => alu64(op, 0, imm as i64 as u64) as i32,
                Width::W32 => alu32(op, 0, imm as u32) as i32,
            };
            let code = match width {
                Width::W64 => Code::Mov64K,
                Width::W32 => Code::Mov32K,
            };
            return (code, RegIdx::R0, v);
        }
        (Width::W64, AluOp::MovSx8, _) => Code::MovSx8_64,
        (Width::W64, AluOp::MovSx16, _) => Code::MovSx16_64,
        (Width::W64, AluOp::MovSx32, _) => Code::MovSx32_64,
        (Width::W32, AluOp::MovSx8, _) => Code::MovSx8_32,
        (Width::W32, AluOp::MovSx16, _) => Code::MovSx16_32,
        // A 32-bit sign extension from 32 bits is a plain mov32.
        (Width::W32, AluOp::MovSx32, _) => Code::Mov32X,
        _ => plain_alu_code(width, op, reg),
    };
    (code, s, imm)
}

fn plain_alu_code(width: Width, op: AluOp, reg: bool) -> Code {
    match (width, op, reg) {
        // Handled by `alu_code` before it gets here.
        (_, AluOp::Neg | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, _) => Code::Unsupported,
        (Width::W64, AluOp::Add, true) => Code::Add64X,
        (Width::W64, AluOp::Add, false) => Code::Add64K,
        (Width::W64, AluOp::Sub, true) => Code::Sub64X,
        (Width::W64, AluOp::Sub, false) => Code::Sub64K,
        (Width::W64, AluOp::Mul, true) => Code::Mul64X,
        (Width::W64, AluOp::Mul, false) => Code::Mul64K,
        (Width::W64, AluOp::Div, true) => Code::Div64X,
        (Width::W64, AluOp::Div, false) => Code::Div64K,
        (Width::W64, AluOp::SDiv, true) => Code::SDiv64X,
        (Width::W64, AluOp::SDiv, false) => Code::SDiv64K,
        (Width::W64, AluOp::Or, true) => Code::Or64X,
        (Width::W64, AluOp::Or, false) => Code::Or64K,
        (Width::W64, AluOp::And, true) => Code::And64X,
        (Width::W64, AluOp::And, false) => Code::And64K,
        (Width::W64, AluOp::Lsh, true) => Code::Lsh64X,
        (Width::W64, AluOp::Lsh, false) => Code::Lsh64K,
        (Width::W64, AluOp::Rsh, true) => Code::Rsh64X,
        (Width::W64, AluOp::Rsh, false) => Code::Rsh64K,
        (Width::W64, AluOp::Mod, true) => Code::Mod64X,
        (Width::W64, AluOp::Mod, false) => Code::Mod64K,
        (Width::W64, AluOp::SMod, true) => Code::SMod64X,
        (Width::W64, AluOp::SMod, false) => Code::SMod64K,
        (Width::W64, AluOp::Xor, true) => Code::Xor64X,
        (Width::W64, AluOp::Xor, false) => Code::Xor64K,
        (Width::W64, AluOp::Mov, true) => Code::Mov64X,
        (Width::W64, AluOp::Mov, false) => Code::Mov64K,
        (Width::W64, AluOp::Arsh, true) => Code::Arsh64X,
        (Width::W64, AluOp::Arsh, false) => Code::Arsh64K,
        (Width::W32, AluOp::Add, true) => Code::Add32X,
        (Width::W32, AluOp::Add, false) => Code::Add32K,
        (Width::W32, AluOp::Sub, true) => Code::Sub32X,
        (Width::W32, AluOp::Sub, false) => Code::Sub32K,
        (Width::W32, AluOp::Mul, true) => Code::Mul32X,
        (Width::W32, AluOp::Mul, false) => Code::Mul32K,
        (Width::W32, AluOp::Div, true) => Code::Div32X,
        (Width::W32, AluOp::Div, false) => Code::Div32K,
        (Width::W32, AluOp::SDiv, true) => Code::SDiv32X,
        (Width::W32, AluOp::SDiv, false) => Code::SDiv32K,
        (Width::W32, AluOp::Or, true) => Code::Or32X,
        (Width::W32, AluOp::Or, false) => Code::Or32K,
        (Width::W32, AluOp::And, true) => Code::And32X,
        (Width::W32, AluOp::And, false) => Code::And32K,
        (Width::W32, AluOp::Lsh, true) => Code::Lsh32X,
        (Width::W32, AluOp::Lsh, false) => Code::Lsh32K,
        (Width::W32, AluOp::Rsh, true) => Code::Rsh32X,
        (Width::W32, AluOp::Rsh, false) => Code::Rsh32K,
        (Width::W32, AluOp::Mod, true) => Code::Mod32X,
        (Width::W32, AluOp::Mod, false) => Code::Mod32K,
        (Width::W32, AluOp::SMod, true) => Code::SMod32X,
        (Width::W32, AluOp::SMod, false) => Code::SMod32K,
        (Width::W32, AluOp::Xor, true) => Code::Xor32X,
        (Width::W32, AluOp::Xor, false) => Code::Xor32K,
        (Width::W32, AluOp::Mov, true) => Code::Mov32X,
        (Width::W32, AluOp::Mov, false) => Code::Mov32K,
        (Width::W32, AluOp::Arsh, true) => Code::Arsh32X,
        (Width::W32, AluOp::Arsh, false) => Code::Arsh32K,
    }
}

fn jmp_code(width: Width, cond: JmpCond, reg: bool) -> Code {
    match (width, cond, reg) {
        (Width::W64, JmpCond::Eq, true) => Code::JEq64X,
        (Width::W64, JmpCond::Eq, false) => Code::JEq64K,
        (Width::W64, JmpCond::Gt, true) => Code::JGt64X,
        (Width::W64, JmpCond::Gt, false) => Code::JGt64K,
        (Width::W64, JmpCond::Ge, true) => Code::JGe64X,
        (Width::W64, JmpCond::Ge, false) => Code::JGe64K,
        (Width::W64, JmpCond::Set, true) => Code::JSet64X,
        (Width::W64, JmpCond::Set, false) => Code::JSet64K,
        (Width::W64, JmpCond::Ne, true) => Code::JNe64X,
        (Width::W64, JmpCond::Ne, false) => Code::JNe64K,
        (Width::W64, JmpCond::Sgt, true) => Code::JSgt64X,
        (Width::W64, JmpCond::Sgt, false) => Code::JSgt64K,
        (Width::W64, JmpCond::Sge, true) => Code::JSge64X,
        (Width::W64, JmpCond::Sge, false) => Code::JSge64K,
        (Width::W64, JmpCond::Lt, true) => Code::JLt64X,
        (Width::W64, JmpCond::Lt, false) => Code::JLt64K,
        (Width::W64, JmpCond::Le, true) => Code::JLe64X,
        (Width::W64, JmpCond::Le, false) => Code::JLe64K,
        (Width::W64, JmpCond::Slt, true) => Code::JSlt64X,
        (Width::W64, JmpCond::Slt, false) => Code::JSlt64K,
        (Width::W64, JmpCond::Sle, true) => Code::JSle64X,
        (Width::W64, JmpCond::Sle, false) => Code::JSle64K,
        (Width::W32, JmpCond::Eq, true) => Code::JEq32X,
        (Width::W32, JmpCond::Eq, false) => Code::JEq32K,
        (Width::W32, JmpCond::Gt, true) => Code::JGt32X,
        (Width::W32, JmpCond::Gt, false) => Code::JGt32K,
        (Width::W32, JmpCond::Ge, true) => Code::JGe32X,
        (Width::W32, JmpCond::Ge, false) => Code::JGe32K,
        (Width::W32, JmpCond::Set, true) => Code::JSet32X,
        (Width::W32, JmpCond::Set, false) => Code::JSet32K,
        (Width::W32, JmpCond::Ne, true) => Code::JNe32X,
        (Width::W32, JmpCond::Ne, false) => Code::JNe32K,
        (Width::W32, JmpCond::Sgt, true) => Code::JSgt32X,
        (Width::W32, JmpCond::Sgt, false) => Code::JSgt32K,
        (Width::W32, JmpCond::Sge, true) => Code::JSge32X,
        (Width::W32, JmpCond::Sge, false) => Code::JSge32K,
        (Width::W32, JmpCond::Lt, true) => Code::JLt32X,
        (Width::W32, JmpCond::Lt, false) => Code::JLt32K,
        (Width::W32, JmpCond::Le, true) => Code::JLe32X,
        (Width::W32, JmpCond::Le, false) => Code::JLe32K,
        (Width::W32, JmpCond::Slt, true) => Code::JSlt32X,
        (Width::W32, JmpCond::Slt, false) => Code::JSlt32K,
        (Width::W32, JmpCond::Sle, true) => Code::JSle32X,
        (Width::W32, JmpCond::Sle, false) => Code::JSle32K,
    }
}

/// The op of `lddw`'s second slot carries the high half of the value.
fn predecode(program: &Program) -> Box<[Op]> {
    let insns = program.insns();
    let blocks = program.blocks();
    let unsupported = Op {
        code: Code::Unsupported,
        inner: Code::Unsupported,
        dst: RegIdx::R0,
        src: RegIdx::R0,
        off: 0,
        imm: 0,
        cost: 0,
    };
    let mut ops = Vec::with_capacity(insns.len() + 1);
    for (pc, insn) in insns.iter().enumerate() {
        let mut op = Op {
            cost: blocks.cost(pc),
            ..unsupported
        };
        // Out-of-range targets become -1, which `finish` turns into a trap.
        let target = |off: i64| i32::try_from(pc as i64 + 1 + off).unwrap_or(-1);
        match *insn {
            Insn::Alu {
                width,
                op: alu,
                dst,
                src,
            } => {
                let (code, s, imm) = alu_code(width, alu, src);
                op.code = code;
                op.dst = RegIdx::new(dst);
                op.src = s;
                op.imm = imm;
            }
            Insn::End { kind, bits, dst } => {
                // `le` and `be` are conversions from host order: one of
                // them is a swap and the other a truncation.
                let swaps = match kind {
                    Endian::Swap => true,
                    Endian::ToLe => cfg!(target_endian = "big"),
                    Endian::ToBe => cfg!(target_endian = "little"),
                };
                op.code = match (swaps, bits) {
                    (true, 16) => Code::Swap16,
                    (true, 32) => Code::Swap32,
                    (true, _) => Code::Swap64,
                    (false, 16) => Code::Le16,
                    (false, 32) => Code::Le32,
                    (false, _) => Code::Nop,
                };
                op.dst = RegIdx::new(dst);
            }
            Insn::Ja { off, .. } => {
                op.code = Code::Ja;
                op.off = target(off.into());
            }
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let (reg, s, imm) = match src {
                    Operand::Reg(r) => (true, RegIdx::new(r), 0),
                    Operand::Imm(i) => (false, RegIdx::R0, i),
                };
                op.code = jmp_code(width, cond, reg);
                op.dst = RegIdx::new(dst);
                op.src = s;
                op.imm = imm;
                op.off = target(off.into());
            }
            Insn::Call(CallTarget::Helper(id)) => {
                op.code = Code::CallHelper;
                op.imm = id;
            }
            Insn::Call(CallTarget::Reg(r)) => {
                op.code = Code::CallX;
                op.dst = RegIdx::new(r);
            }
            Insn::Call(CallTarget::Local(off)) => {
                op.code = Code::CallLocal;
                op.off = target(off.into());
            }
            Insn::Exit => op.code = Code::Exit,
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                op.code = match (size, signed) {
                    (Size::B, false) => Code::LdB,
                    (Size::H, false) => Code::LdH,
                    (Size::W, false) => Code::LdW,
                    (Size::DW, _) => Code::LdDW,
                    (Size::B, true) => Code::LdSB,
                    (Size::H, true) => Code::LdSH,
                    (Size::W, true) => Code::LdSW,
                };
                op.dst = RegIdx::new(dst);
                op.src = RegIdx::new(src);
                op.off = off.into();
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                op.code = match (size, src) {
                    (Size::B, Operand::Imm(_)) => Code::StB,
                    (Size::H, Operand::Imm(_)) => Code::StH,
                    (Size::W, Operand::Imm(_)) => Code::StW,
                    (Size::DW, Operand::Imm(_)) => Code::StDW,
                    (Size::B, Operand::Reg(_)) => Code::StxB,
                    (Size::H, Operand::Reg(_)) => Code::StxH,
                    (Size::W, Operand::Reg(_)) => Code::StxW,
                    (Size::DW, Operand::Reg(_)) => Code::StxDW,
                };
                match src {
                    Operand::Imm(i) => op.imm = i,
                    Operand::Reg(r) => op.src = RegIdx::new(r),
                }
                op.dst = RegIdx::new(dst);
                op.off = off.into();
            }
            Insn::Atomic {
                size,
                op: aop,
                fetch,
                dst,
                src,
                off,
            } => {
                op.code = match size {
                    Size::W => Code::AtomicW,
                    Size::DW => Code::AtomicDW,
                    // Not encodable; traps like the reference does.
                    _ => Code::Unsupported,
                };
                op.dst = RegIdx::new(dst);
                op.src = RegIdx::new(src);
                op.off = off.into();
                op.imm = atomic_code(aop, fetch);
            }
            // The high half lives in the next slot's op, so an `lddw`
            // whose next slot is not its second half (only in a program
            // built without checks) stays `Unsupported`.
            Insn::Lddw {
                dst,
                src: LddwSrc::Imm,
                imm,
            } if matches!(insns.get(pc + 1), Some(Insn::LddwHi)) => {
                op.code = Code::Lddw;
                op.dst = RegIdx::new(dst);
                op.imm = imm as u32 as i32;
            }
            Insn::LddwHi => {
                // Never executed; holds the high half for the lddw before.
                if let Some(Insn::Lddw { imm, .. }) = pc.checked_sub(1).map(|p| insns[p]) {
                    op.imm = (imm >> 32) as u32 as i32;
                }
            }
            Insn::Lddw { .. } | Insn::Call(CallTarget::Kfunc(_)) | Insn::LdPacket { .. } => {}
        }
        ops.push(op);
    }
    ops.push(unsupported);
    finish(&mut ops, program.mode());
    ops.into_boxed_slice()
}

/// Establishes the loop's invariant, `pc <= n` for a program of `n` slots
/// (slot `n` is the trailing trapping op), and marks block leaders.
///
/// Decoded programs satisfy it already; a program built with
/// [`Program::new_unchecked`] from arbitrary instructions might not, so a
/// jump outside the ops or an `lddw` without its second slot becomes an op
/// that traps.
fn finish(ops: &mut [Op], mode: SafetyMode) {
    let n = ops.len() - 1;
    for (pc, op) in ops.iter_mut().enumerate().take(n) {
        let bad_target = match op.code {
            Code::Ja | Code::CallLocal => op.off < 0 || op.off as usize > n,
            c if is_jump(c) => op.off < 0 || op.off as usize > n,
            Code::Lddw => pc + 1 >= n,
            _ => false,
        };
        if bad_target {
            op.code = Code::Unsupported;
        }
        op.inner = op.code;
        if mode == SafetyMode::Checked && op.cost != 0 {
            op.code = Code::Charge;
        }
    }
}

/// Whether `code` is a conditional jump (its `off` is a target slot).
fn is_jump(code: Code) -> bool {
    (Code::JEq64X as u8..=Code::JSle32K as u8).contains(&(code as u8))
}

/// The region of the last checked access, a fast path in front of
/// [`oxbpf_runtime::Regions::check`]: an access inside it is allowed
/// exactly when the full check would allow it (the full check succeeds as
/// soon as one region permits the access). Emptied whenever a helper runs,
/// since helpers may move or remove regions.
#[derive(Clone, Copy)]
struct LastRegion {
    start: u64,
    len: u64,
    writable: bool,
}

impl LastRegion {
    const EMPTY: LastRegion = LastRegion {
        start: 0,
        len: 0,
        writable: false,
    };

    #[inline(always)]
    fn allows(&self, addr: u64, size: u64, write: bool) -> bool {
        let off = addr.wrapping_sub(self.start);
        off < self.len && size <= self.len - off && (self.writable || !write)
    }
}

/// Checks an access in checked mode (nothing in verified mode).
#[inline(always)]
fn check<const CHECKED: bool>(
    state: &RunState<'_>,
    last: &mut LastRegion,
    addr: u64,
    size: Size,
    write: bool,
) -> Result<(), Trap> {
    let size = size.bytes() as u64;
    if !CHECKED || last.allows(addr, size, write) {
        return Ok(());
    }
    slow_check(state, last, addr, size, write)
}

#[inline(never)]
fn slow_check(
    state: &RunState<'_>,
    last: &mut LastRegion,
    addr: u64,
    size: u64,
    write: bool,
) -> Result<(), Trap> {
    state.regions.check(addr, size, write)?;
    // Remember a region that allowed it, for the next access.
    if let Some(r) = state
        .regions
        .as_slice()
        .iter()
        .rev()
        .find(|r| r.contains(addr, size) && (r.writable || !write))
    {
        *last = LastRegion {
            start: r.start,
            len: r.len,
            writable: r.writable,
        };
    }
    Ok(())
}

fn interpret<const CHECKED: bool>(
    program: &FastProgram,
    state: &mut RunState<'_>,
    args: [u64; 5],
    top: u64,
    frames: usize,
) -> Result<u64, Trapped> {
    let ops = &program.ops[..];
    let helpers: &HelperTable = program.program.helpers();
    let mut r = Regs([0u64; 11]);
    r.0[1..6].copy_from_slice(&args);
    r[10] = top;
    let mut calls = [Frame {
        ret: 0,
        saved: [0; 5],
    }; CHECKED_MAX_FRAMES];
    let mut depth = 0usize;
    // The current op, as a pointer into `ops`: advancing it is one add.
    // Invariant (from `finish`): it points at one of the n + 1 ops.
    let base = ops.as_ptr();
    let mut ip = base;
    // The slot of the current op, computed only where needed.
    macro_rules! pc {
        () => {
            // SAFETY: `ip` and `base` point into the same allocation.
            unsafe { ip.offset_from(base) as usize }
        };
    }
    // Moves to slot `$slot`, which `finish` proved is at most n.
    macro_rules! goto {
        ($slot:expr) => {{
            // SAFETY: `$slot` <= n and `ops` has n + 1 entries.
            ip = unsafe { base.add($slot) };
            continue;
        }};
    }
    // Kept in a local so that it can live in a register; written back to
    // the state whenever the run ends and around helper calls.
    let mut budget = state.budget;
    let mut last = LastRegion::EMPTY;

    macro_rules! trap {
        ($trap:expr) => {{
            state.budget = budget;
            return Err(trapped($trap, pc!()));
        }};
    }

    loop {
        // SAFETY: `ip` points at one of the ops (see `goto!` and the
        // advances below).
        let op = unsafe { &*ip };
        let (d, s) = (op.dst, op.src);
        let mut code = op.code;
        if CHECKED && code == Code::Charge {
            // blocks.rs: the whole block is charged on entry.
            let cost = u64::from(op.cost);
            if budget < cost {
                trap!(Trap::BudgetExhausted);
            }
            budget -= cost;
            code = op.inner;
        }

        macro_rules! jump {
            ($taken:expr) => {
                if $taken {
                    goto!(op.off as u32 as usize);
                }
            };
        }
        macro_rules! load {
            ($size:expr, $ty:ty) => {{
                let addr = r[s].wrapping_add(op.off as i64 as u64);
                if let Err(t) = check::<CHECKED>(state, &mut last, addr, $size, false) {
                    trap!(t);
                }
                // SAFETY: validated against a region in checked mode;
                // proved by the verifier in verified mode.
                let v = unsafe { memory::load(addr, $size) };
                r[d] = v as $ty as i64 as u64;
            }};
        }
        macro_rules! store {
            ($size:expr, $v:expr) => {{
                let addr = r[d].wrapping_add(op.off as i64 as u64);
                let v = $v;
                if let Err(t) = check::<CHECKED>(state, &mut last, addr, $size, true) {
                    trap!(t);
                }
                // SAFETY: as for loads, and the region is writable.
                unsafe { memory::store(addr, $size, v) };
            }};
        }
        macro_rules! helper {
            ($id:expr, $unknown:expr) => {{
                let args = [r[1], r[2], r[3], r[4], r[5]];
                state.budget = budget;
                last = LastRegion::EMPTY;
                let called = exec::call_helper(helpers, $id, state, args, pc!(), $unknown);
                budget = state.budget;
                match called {
                    Ok(Called::Returned(v)) => r[0] = v,
                    Ok(Called::Exit(v)) => return Ok(v),
                    Err(t) => return Err(t),
                }
            }};
        }

        match code {
            Code::Add64X => r[d] = alu64(AluOp::Add, r[d], r[s]),
            Code::Add64K => r[d] = alu64(AluOp::Add, r[d], op.imm as i64 as u64),
            Code::Sub64X => r[d] = alu64(AluOp::Sub, r[d], r[s]),
            Code::Sub64K => r[d] = alu64(AluOp::Sub, r[d], op.imm as i64 as u64),
            Code::Mul64X => r[d] = alu64(AluOp::Mul, r[d], r[s]),
            Code::Mul64K => r[d] = alu64(AluOp::Mul, r[d], op.imm as i64 as u64),
            Code::Div64X => r[d] = alu64(AluOp::Div, r[d], r[s]),
            Code::Div64K => r[d] = alu64(AluOp::Div, r[d], op.imm as i64 as u64),
            Code::SDiv64X => r[d] = alu64(AluOp::SDiv, r[d], r[s]),
            Code::SDiv64K => r[d] = alu64(AluOp::SDiv, r[d], op.imm as i64 as u64),
            Code::Or64X => r[d] = alu64(AluOp::Or, r[d], r[s]),
            Code::Or64K => r[d] = alu64(AluOp::Or, r[d], op.imm as i64 as u64),
            Code::And64X => r[d] = alu64(AluOp::And, r[d], r[s]),
            Code::And64K => r[d] = alu64(AluOp::And, r[d], op.imm as i64 as u64),
            Code::Lsh64X => r[d] = alu64(AluOp::Lsh, r[d], r[s]),
            Code::Lsh64K => r[d] = alu64(AluOp::Lsh, r[d], op.imm as i64 as u64),
            Code::Rsh64X => r[d] = alu64(AluOp::Rsh, r[d], r[s]),
            Code::Rsh64K => r[d] = alu64(AluOp::Rsh, r[d], op.imm as i64 as u64),
            Code::Mod64X => r[d] = alu64(AluOp::Mod, r[d], r[s]),
            Code::Mod64K => r[d] = alu64(AluOp::Mod, r[d], op.imm as i64 as u64),
            Code::SMod64X => r[d] = alu64(AluOp::SMod, r[d], r[s]),
            Code::SMod64K => r[d] = alu64(AluOp::SMod, r[d], op.imm as i64 as u64),
            Code::Xor64X => r[d] = alu64(AluOp::Xor, r[d], r[s]),
            Code::Xor64K => r[d] = alu64(AluOp::Xor, r[d], op.imm as i64 as u64),
            Code::Mov64X => r[d] = alu64(AluOp::Mov, r[d], r[s]),
            Code::Mov64K => r[d] = alu64(AluOp::Mov, r[d], op.imm as i64 as u64),
            Code::Arsh64X => r[d] = alu64(AluOp::Arsh, r[d], r[s]),
            Code::Arsh64K => r[d] = alu64(AluOp::Arsh, r[d], op.imm as i64 as u64),
            Code::Add32X => r[d] = u64::from(alu32(AluOp::Add, r[d] as u32, r[s] as u32)),
            Code::Add32K => r[d] = u64::from(alu32(AluOp::Add, r[d] as u32, op.imm as u32)),
            Code::Sub32X => r[d] = u64::from(alu32(AluOp::Sub, r[d] as u32, r[s] as u32)),
            Code::Sub32K => r[d] = u64::from(alu32(AluOp::Sub, r[d] as u32, op.imm as u32)),
            Code::Mul32X => r[d] = u64::from(alu32(AluOp::Mul, r[d] as u32, r[s] as u32)),
            Code::Mul32K => r[d] = u64::from(alu32(AluOp::Mul, r[d] as u32, op.imm as u32)),
            Code::Div32X => r[d] = u64::from(alu32(AluOp::Div, r[d] as u32, r[s] as u32)),
            Code::Div32K => r[d] = u64::from(alu32(AluOp::Div, r[d] as u32, op.imm as u32)),
            Code::SDiv32X => r[d] = u64::from(alu32(AluOp::SDiv, r[d] as u32, r[s] as u32)),
            Code::SDiv32K => r[d] = u64::from(alu32(AluOp::SDiv, r[d] as u32, op.imm as u32)),
            Code::Or32X => r[d] = u64::from(alu32(AluOp::Or, r[d] as u32, r[s] as u32)),
            Code::Or32K => r[d] = u64::from(alu32(AluOp::Or, r[d] as u32, op.imm as u32)),
            Code::And32X => r[d] = u64::from(alu32(AluOp::And, r[d] as u32, r[s] as u32)),
            Code::And32K => r[d] = u64::from(alu32(AluOp::And, r[d] as u32, op.imm as u32)),
            Code::Lsh32X => r[d] = u64::from(alu32(AluOp::Lsh, r[d] as u32, r[s] as u32)),
            Code::Lsh32K => r[d] = u64::from(alu32(AluOp::Lsh, r[d] as u32, op.imm as u32)),
            Code::Rsh32X => r[d] = u64::from(alu32(AluOp::Rsh, r[d] as u32, r[s] as u32)),
            Code::Rsh32K => r[d] = u64::from(alu32(AluOp::Rsh, r[d] as u32, op.imm as u32)),
            Code::Mod32X => r[d] = u64::from(alu32(AluOp::Mod, r[d] as u32, r[s] as u32)),
            Code::Mod32K => r[d] = u64::from(alu32(AluOp::Mod, r[d] as u32, op.imm as u32)),
            Code::SMod32X => r[d] = u64::from(alu32(AluOp::SMod, r[d] as u32, r[s] as u32)),
            Code::SMod32K => r[d] = u64::from(alu32(AluOp::SMod, r[d] as u32, op.imm as u32)),
            Code::Xor32X => r[d] = u64::from(alu32(AluOp::Xor, r[d] as u32, r[s] as u32)),
            Code::Xor32K => r[d] = u64::from(alu32(AluOp::Xor, r[d] as u32, op.imm as u32)),
            Code::Mov32X => r[d] = u64::from(alu32(AluOp::Mov, r[d] as u32, r[s] as u32)),
            Code::Mov32K => r[d] = u64::from(alu32(AluOp::Mov, r[d] as u32, op.imm as u32)),
            Code::Arsh32X => r[d] = u64::from(alu32(AluOp::Arsh, r[d] as u32, r[s] as u32)),
            Code::Arsh32K => r[d] = u64::from(alu32(AluOp::Arsh, r[d] as u32, op.imm as u32)),
            Code::JEq64X => jump!(cond64(JmpCond::Eq, r[d], r[s])),
            Code::JEq64K => jump!(cond64(JmpCond::Eq, r[d], op.imm as i64 as u64)),
            Code::JGt64X => jump!(cond64(JmpCond::Gt, r[d], r[s])),
            Code::JGt64K => jump!(cond64(JmpCond::Gt, r[d], op.imm as i64 as u64)),
            Code::JGe64X => jump!(cond64(JmpCond::Ge, r[d], r[s])),
            Code::JGe64K => jump!(cond64(JmpCond::Ge, r[d], op.imm as i64 as u64)),
            Code::JSet64X => jump!(cond64(JmpCond::Set, r[d], r[s])),
            Code::JSet64K => jump!(cond64(JmpCond::Set, r[d], op.imm as i64 as u64)),
            Code::JNe64X => jump!(cond64(JmpCond::Ne, r[d], r[s])),
            Code::JNe64K => jump!(cond64(JmpCond::Ne, r[d], op.imm as i64 as u64)),
            Code::JSgt64X => jump!(cond64(JmpCond::Sgt, r[d], r[s])),
            Code::JSgt64K => jump!(cond64(JmpCond::Sgt, r[d], op.imm as i64 as u64)),
            Code::JSge64X => jump!(cond64(JmpCond::Sge, r[d], r[s])),
            Code::JSge64K => jump!(cond64(JmpCond::Sge, r[d], op.imm as i64 as u64)),
            Code::JLt64X => jump!(cond64(JmpCond::Lt, r[d], r[s])),
            Code::JLt64K => jump!(cond64(JmpCond::Lt, r[d], op.imm as i64 as u64)),
            Code::JLe64X => jump!(cond64(JmpCond::Le, r[d], r[s])),
            Code::JLe64K => jump!(cond64(JmpCond::Le, r[d], op.imm as i64 as u64)),
            Code::JSlt64X => jump!(cond64(JmpCond::Slt, r[d], r[s])),
            Code::JSlt64K => jump!(cond64(JmpCond::Slt, r[d], op.imm as i64 as u64)),
            Code::JSle64X => jump!(cond64(JmpCond::Sle, r[d], r[s])),
            Code::JSle64K => jump!(cond64(JmpCond::Sle, r[d], op.imm as i64 as u64)),
            Code::JEq32X => jump!(cond32(JmpCond::Eq, r[d] as u32, r[s] as u32)),
            Code::JEq32K => jump!(cond32(JmpCond::Eq, r[d] as u32, op.imm as u32)),
            Code::JGt32X => jump!(cond32(JmpCond::Gt, r[d] as u32, r[s] as u32)),
            Code::JGt32K => jump!(cond32(JmpCond::Gt, r[d] as u32, op.imm as u32)),
            Code::JGe32X => jump!(cond32(JmpCond::Ge, r[d] as u32, r[s] as u32)),
            Code::JGe32K => jump!(cond32(JmpCond::Ge, r[d] as u32, op.imm as u32)),
            Code::JSet32X => jump!(cond32(JmpCond::Set, r[d] as u32, r[s] as u32)),
            Code::JSet32K => jump!(cond32(JmpCond::Set, r[d] as u32, op.imm as u32)),
            Code::JNe32X => jump!(cond32(JmpCond::Ne, r[d] as u32, r[s] as u32)),
            Code::JNe32K => jump!(cond32(JmpCond::Ne, r[d] as u32, op.imm as u32)),
            Code::JSgt32X => jump!(cond32(JmpCond::Sgt, r[d] as u32, r[s] as u32)),
            Code::JSgt32K => jump!(cond32(JmpCond::Sgt, r[d] as u32, op.imm as u32)),
            Code::JSge32X => jump!(cond32(JmpCond::Sge, r[d] as u32, r[s] as u32)),
            Code::JSge32K => jump!(cond32(JmpCond::Sge, r[d] as u32, op.imm as u32)),
            Code::JLt32X => jump!(cond32(JmpCond::Lt, r[d] as u32, r[s] as u32)),
            Code::JLt32K => jump!(cond32(JmpCond::Lt, r[d] as u32, op.imm as u32)),
            Code::JLe32X => jump!(cond32(JmpCond::Le, r[d] as u32, r[s] as u32)),
            Code::JLe32K => jump!(cond32(JmpCond::Le, r[d] as u32, op.imm as u32)),
            Code::JSlt32X => jump!(cond32(JmpCond::Slt, r[d] as u32, r[s] as u32)),
            Code::JSlt32K => jump!(cond32(JmpCond::Slt, r[d] as u32, op.imm as u32)),
            Code::JSle32X => jump!(cond32(JmpCond::Sle, r[d] as u32, r[s] as u32)),
            Code::JSle32K => jump!(cond32(JmpCond::Sle, r[d] as u32, op.imm as u32)),
            Code::Neg64 => r[d] = alu64(AluOp::Neg, r[d], 0),
            Code::Neg32 => r[d] = u64::from(alu32(AluOp::Neg, r[d] as u32, 0)),
            Code::MovSx8_64 => r[d] = alu64(AluOp::MovSx8, 0, r[s]),
            Code::MovSx16_64 => r[d] = alu64(AluOp::MovSx16, 0, r[s]),
            Code::MovSx32_64 => r[d] = alu64(AluOp::MovSx32, 0, r[s]),
            Code::MovSx8_32 => r[d] = u64::from(alu32(AluOp::MovSx8, 0, r[s] as u32)),
            Code::MovSx16_32 => r[d] = u64::from(alu32(AluOp::MovSx16, 0, r[s] as u32)),
            Code::Le16 => r[d] = u64::from(r[d] as u16),
            Code::Le32 => r[d] = u64::from(r[d] as u32),
            Code::Swap16 => r[d] = u64::from((r[d] as u16).swap_bytes()),
            Code::Swap32 => r[d] = u64::from((r[d] as u32).swap_bytes()),
            Code::Swap64 => r[d] = r[d].swap_bytes(),
            Code::Nop => {}
            Code::Ja => goto!(op.off as u32 as usize),
            Code::CallHelper => helper!(
                u64::try_from(op.imm).unwrap_or(u64::MAX),
                Trap::UnknownHelper
            ),
            Code::CallX => helper!(r[d], Trap::BadCallTarget),
            Code::CallLocal => {
                if depth + 1 >= frames {
                    trap!(Trap::CallDepth);
                }
                calls[depth] = Frame {
                    ret: pc!() + 1,
                    saved: [r[6], r[7], r[8], r[9], r[10]],
                };
                depth += 1;
                r[10] = top - (depth * STACK_PER_FRAME) as u64;
                goto!(op.off as u32 as usize);
            }
            Code::Exit => {
                if depth == 0 {
                    state.budget = budget;
                    return Ok(r[0]);
                }
                depth -= 1;
                let f = calls[depth];
                r.0[6..11].copy_from_slice(&f.saved);
                goto!(f.ret);
            }
            Code::LdB => load!(Size::B, u8),
            Code::LdH => load!(Size::H, u16),
            Code::LdW => load!(Size::W, u32),
            Code::LdDW => load!(Size::DW, u64),
            Code::LdSB => load!(Size::B, i8),
            Code::LdSH => load!(Size::H, i16),
            Code::LdSW => load!(Size::W, i32),
            Code::StB => store!(Size::B, op.imm as i64 as u64),
            Code::StH => store!(Size::H, op.imm as i64 as u64),
            Code::StW => store!(Size::W, op.imm as i64 as u64),
            Code::StDW => store!(Size::DW, op.imm as i64 as u64),
            Code::StxB => store!(Size::B, r[s]),
            Code::StxH => store!(Size::H, r[s]),
            Code::StxW => store!(Size::W, r[s]),
            Code::StxDW => store!(Size::DW, r[s]),
            Code::AtomicW | Code::AtomicDW => {
                let size = if code == Code::AtomicW {
                    Size::W
                } else {
                    Size::DW
                };
                let addr = r[d].wrapping_add(op.off as i64 as u64);
                if let Err(t) = check::<CHECKED>(state, &mut last, addr, size, true) {
                    trap!(t);
                }
                let aop = atomic_op(op.imm);
                // SAFETY: as for stores.
                let old = unsafe { memory::atomic(addr, size, aop, r[s], r[0]) };
                match aop {
                    AtomicOp::CmpXchg => r[0] = old,
                    AtomicOp::Xchg => r[s] = old,
                    _ if op.imm & 0x100 != 0 => r[s] = old,
                    _ => {}
                }
            }
            Code::Lddw => {
                // SAFETY: an lddw op exists only where the next slot is its
                // second half (`predecode`), so ip + 1 is an op.
                let hi = unsafe { &*ip.add(1) }.imm as u32;
                r[d] = u64::from(op.imm as u32) | (u64::from(hi) << 32);
                // SAFETY: the second half is at ip + 1 < n, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
            }
            Code::Unsupported => trap!(Trap::Unsupported),
            // Only leaders carry it, and it was replaced by `inner` above.
            Code::Charge => trap!(Trap::Unsupported),
        }
        // SAFETY: only the trailing op sits at slot n, and it traps; any
        // other op is at a slot below n, so its successor is an op.
        ip = unsafe { ip.add(1) };
    }
}
