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
    /// Superinstructions made by [`fuse`]: `mov64 d, s` then `add64 d, imm`
    /// (`LeaK`), `add64 d, b` (`LeaX`, `b` in `off`) or both (`LeaKX`):
    /// `d = s + b + imm` in one dispatch.
    LeaK,
    LeaX,
    LeaKX,
    /// `add64 d, imm` then a 64-bit conditional jump on `d` (the jump's op
    /// stays in the next slot and supplies the comparison and target).
    AddKJEq64X,
    AddKJEq64K,
    AddKJGt64X,
    AddKJGt64K,
    AddKJGe64X,
    AddKJGe64K,
    AddKJSet64X,
    AddKJSet64K,
    AddKJNe64X,
    AddKJNe64K,
    AddKJSgt64X,
    AddKJSgt64K,
    AddKJSge64X,
    AddKJSge64K,
    AddKJLt64X,
    AddKJLt64K,
    AddKJLe64X,
    AddKJLe64K,
    AddKJSlt64X,
    AddKJSlt64K,
    AddKJSle64X,
    AddKJSle64K,
    /// `mov d, s` then an ALU operation of the same width on `d` (the
    /// operation's op stays in the next slot and supplies the operand):
    /// `d = s OP operand`, a three-address instruction.
    MovSub64X,
    MovSub64K,
    MovMul64X,
    MovMul64K,
    MovDiv64X,
    MovDiv64K,
    MovSDiv64X,
    MovSDiv64K,
    MovOr64X,
    MovOr64K,
    MovAnd64X,
    MovAnd64K,
    MovLsh64X,
    MovLsh64K,
    MovRsh64X,
    MovRsh64K,
    MovMod64X,
    MovMod64K,
    MovSMod64X,
    MovSMod64K,
    MovXor64X,
    MovXor64K,
    MovArsh64X,
    MovArsh64K,
    MovSub32X,
    MovSub32K,
    MovMul32X,
    MovMul32K,
    MovDiv32X,
    MovDiv32K,
    MovSDiv32X,
    MovSDiv32K,
    MovOr32X,
    MovOr32K,
    MovAnd32X,
    MovAnd32K,
    MovLsh32X,
    MovLsh32K,
    MovRsh32X,
    MovRsh32K,
    MovMod32X,
    MovMod32K,
    MovSMod32X,
    MovSMod32K,
    MovXor32X,
    MovXor32K,
    MovArsh32X,
    MovArsh32K,
    /// `rsh64 d, imm` then `and64 d, imm` (a bit field): the second
    /// immediate is in the next slot's op.
    RshKAndK64,
    /// `mul64 d, imm|s` then `add64 d, imm|b` (multiply-add, as in hashes
    /// and linear congruential generators): `<mul form><add form>`.
    MulKAddK64,
    MulKAddX64,
    MulXAddK64,
    MulXAddX64,
    /// Two register moves in a row (`mov64 d, s` then `mov64 d2, s2`, as
    /// in argument set-up before a call), in order.
    MovMov64,
    /// `mov64 d, s; rsh64 d, imm|b; and64 d, imm`: a bit field of `s`
    /// (the shift and mask come from the next two ops).
    MovRshKAndK64,
    MovRshXAndK64,
}

/// The superinstruction for a `mov` of `width` followed by `next` on the
/// same register, if there is one, and whether `next` reads a source
/// register.
fn mov_then(width: Width, next: Code) -> Option<(Code, bool)> {
    Some(match (width, next) {
        (Width::W64, Code::Sub64X) => (Code::MovSub64X, true),
        (Width::W64, Code::Sub64K) => (Code::MovSub64K, false),
        (Width::W64, Code::Mul64X) => (Code::MovMul64X, true),
        (Width::W64, Code::Mul64K) => (Code::MovMul64K, false),
        (Width::W64, Code::Div64X) => (Code::MovDiv64X, true),
        (Width::W64, Code::Div64K) => (Code::MovDiv64K, false),
        (Width::W64, Code::SDiv64X) => (Code::MovSDiv64X, true),
        (Width::W64, Code::SDiv64K) => (Code::MovSDiv64K, false),
        (Width::W64, Code::Or64X) => (Code::MovOr64X, true),
        (Width::W64, Code::Or64K) => (Code::MovOr64K, false),
        (Width::W64, Code::And64X) => (Code::MovAnd64X, true),
        (Width::W64, Code::And64K) => (Code::MovAnd64K, false),
        (Width::W64, Code::Lsh64X) => (Code::MovLsh64X, true),
        (Width::W64, Code::Lsh64K) => (Code::MovLsh64K, false),
        (Width::W64, Code::Rsh64X) => (Code::MovRsh64X, true),
        (Width::W64, Code::Rsh64K) => (Code::MovRsh64K, false),
        (Width::W64, Code::Mod64X) => (Code::MovMod64X, true),
        (Width::W64, Code::Mod64K) => (Code::MovMod64K, false),
        (Width::W64, Code::SMod64X) => (Code::MovSMod64X, true),
        (Width::W64, Code::SMod64K) => (Code::MovSMod64K, false),
        (Width::W64, Code::Xor64X) => (Code::MovXor64X, true),
        (Width::W64, Code::Xor64K) => (Code::MovXor64K, false),
        (Width::W64, Code::Arsh64X) => (Code::MovArsh64X, true),
        (Width::W64, Code::Arsh64K) => (Code::MovArsh64K, false),
        (Width::W32, Code::Sub32X) => (Code::MovSub32X, true),
        (Width::W32, Code::Sub32K) => (Code::MovSub32K, false),
        (Width::W32, Code::Mul32X) => (Code::MovMul32X, true),
        (Width::W32, Code::Mul32K) => (Code::MovMul32K, false),
        (Width::W32, Code::Div32X) => (Code::MovDiv32X, true),
        (Width::W32, Code::Div32K) => (Code::MovDiv32K, false),
        (Width::W32, Code::SDiv32X) => (Code::MovSDiv32X, true),
        (Width::W32, Code::SDiv32K) => (Code::MovSDiv32K, false),
        (Width::W32, Code::Or32X) => (Code::MovOr32X, true),
        (Width::W32, Code::Or32K) => (Code::MovOr32K, false),
        (Width::W32, Code::And32X) => (Code::MovAnd32X, true),
        (Width::W32, Code::And32K) => (Code::MovAnd32K, false),
        (Width::W32, Code::Lsh32X) => (Code::MovLsh32X, true),
        (Width::W32, Code::Lsh32K) => (Code::MovLsh32K, false),
        (Width::W32, Code::Rsh32X) => (Code::MovRsh32X, true),
        (Width::W32, Code::Rsh32K) => (Code::MovRsh32K, false),
        (Width::W32, Code::Mod32X) => (Code::MovMod32X, true),
        (Width::W32, Code::Mod32K) => (Code::MovMod32K, false),
        (Width::W32, Code::SMod32X) => (Code::MovSMod32X, true),
        (Width::W32, Code::SMod32K) => (Code::MovSMod32K, false),
        (Width::W32, Code::Xor32X) => (Code::MovXor32X, true),
        (Width::W32, Code::Xor32K) => (Code::MovXor32K, false),
        (Width::W32, Code::Arsh32X) => (Code::MovArsh32X, true),
        (Width::W32, Code::Arsh32K) => (Code::MovArsh32K, false),
        _ => return None,
    })
}

/// The superinstruction for `add64 d, imm` followed by the 64-bit jump
/// `jump` on `d`, if `jump` is one.
fn add_k_jump(jump: Code) -> Option<Code> {
    Some(match jump {
        Code::JEq64X => Code::AddKJEq64X,
        Code::JEq64K => Code::AddKJEq64K,
        Code::JGt64X => Code::AddKJGt64X,
        Code::JGt64K => Code::AddKJGt64K,
        Code::JGe64X => Code::AddKJGe64X,
        Code::JGe64K => Code::AddKJGe64K,
        Code::JSet64X => Code::AddKJSet64X,
        Code::JSet64K => Code::AddKJSet64K,
        Code::JNe64X => Code::AddKJNe64X,
        Code::JNe64K => Code::AddKJNe64K,
        Code::JSgt64X => Code::AddKJSgt64X,
        Code::JSgt64K => Code::AddKJSgt64K,
        Code::JSge64X => Code::AddKJSge64X,
        Code::JSge64K => Code::AddKJSge64K,
        Code::JLt64X => Code::AddKJLt64X,
        Code::JLt64K => Code::AddKJLt64K,
        Code::JLe64X => Code::AddKJLe64X,
        Code::JLe64K => Code::AddKJLe64K,
        Code::JSlt64X => Code::AddKJSlt64X,
        Code::JSlt64K => Code::AddKJSlt64K,
        Code::JSle64X => Code::AddKJSle64X,
        Code::JSle64K => Code::AddKJSle64K,
        _ => return None,
    })
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
    fuse(&mut ops, blocks);
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

/// Replaces common instruction pairs and triples with superinstructions
/// (one dispatch, and the intermediate value stays in a host register
/// instead of going through the register array). The absorbed ops stay in
/// place, unchanged, but are never dispatched: they must not be block
/// leaders, so nothing jumps to them and checked mode's block charge is
/// the same. Runs after [`finish`], so a jump op here has a valid target.
fn fuse(ops: &mut [Op], blocks: &oxbpf_runtime::blocks::Blocks) {
    let n = ops.len() - 1;
    let absorbable = |p: usize| p < n && !blocks.is_leader(p);
    for pc in 0..n {
        let op = ops[pc];
        let fused = match op.inner {
            Code::Add64K if absorbable(pc + 1) => {
                let j = ops[pc + 1];
                if j.code == j.inner && j.dst.0 == op.dst.0 {
                    add_k_jump(j.code).map(|c| (c, op))
                } else {
                    None
                }
            }
            Code::Mov64X if op.dst.0 != op.src.0 && absorbable(pc + 1) => {
                let d = op.dst.0;
                // The adds that follow, up to one with an immediate and one
                // with a register other than d (`add d, d` reads the value
                // being built).
                let mut imm = None;
                let mut index = None;
                for p in [pc + 1, pc + 2] {
                    if !absorbable(p) || ops[p].dst.0 != d {
                        break;
                    }
                    match ops[p].code {
                        Code::Add64K if imm.is_none() => imm = Some(ops[p].imm),
                        Code::Add64X if index.is_none() && ops[p].src.0 != d => {
                            index = Some(ops[p].src)
                        }
                        _ => break,
                    }
                }
                let mut f = op;
                f.imm = imm.unwrap_or(0);
                f.off = index.map_or(0, |b| i32::from(b.0));
                match (imm, index) {
                    (Some(_), None) => Some((Code::LeaK, f)),
                    (None, Some(_)) => Some((Code::LeaX, f)),
                    (Some(_), Some(_)) => Some((Code::LeaKX, f)),
                    (None, None) if bit_field(ops, pc, absorbable(pc + 2)).is_some() => {
                        bit_field(ops, pc, true).map(|c| (c, op))
                    }
                    (None, None) => mov_then_op(ops, pc, Width::W64)
                        .or_else(|| (ops[pc + 1].code == Code::Mov64X).then_some(Code::MovMov64))
                        .map(|c| (c, op)),
                }
            }
            Code::Mov32X if absorbable(pc + 1) => mov_then_op(ops, pc, Width::W32).map(|c| (c, op)),
            Code::Mul64K | Code::Mul64X if absorbable(pc + 1) => {
                let next = ops[pc + 1];
                let k = op.inner == Code::Mul64K;
                let code = match (k, next.code) {
                    (true, Code::Add64K) => Some(Code::MulKAddK64),
                    (true, Code::Add64X) => Some(Code::MulKAddX64),
                    (false, Code::Add64K) => Some(Code::MulXAddK64),
                    (false, Code::Add64X) => Some(Code::MulXAddX64),
                    _ => None,
                };
                // `add d, d` would read the product: kept apart.
                let reads_d = next.code == Code::Add64X && next.src.0 == op.dst.0;
                code.filter(|_| next.dst.0 == op.dst.0 && !reads_d)
                    .map(|c| (c, op))
            }
            Code::Rsh64K if absorbable(pc + 1) => {
                let next = ops[pc + 1];
                (next.code == Code::And64K && next.dst.0 == op.dst.0)
                    .then_some((Code::RshKAndK64, op))
            }
            _ => None,
        };
        if let Some((code, mut f)) = fused {
            f.inner = code;
            if f.code != Code::Charge {
                f.code = code;
            }
            ops[pc] = f;
        }
    }
}

/// `MovRshKAndK64` or `MovRshXAndK64` if the 64-bit `mov` at `pc` starts
/// a bit-field extraction and `third_ok` (the `and` is absorbable).
fn bit_field(ops: &[Op], pc: usize, third_ok: bool) -> Option<Code> {
    let (mov, rsh) = (ops[pc], ops[pc + 1]);
    let and = ops.get(pc + 2)?;
    let d = mov.dst.0;
    if !third_ok || rsh.dst.0 != d || and.dst.0 != d || and.code != Code::And64K {
        return None;
    }
    match rsh.code {
        Code::Rsh64K => Some(Code::MovRshKAndK64),
        // `rsh d, d` would shift by the moved value: left to the others.
        Code::Rsh64X if rsh.src.0 != d => Some(Code::MovRshXAndK64),
        _ => None,
    }
}

/// The three-address superinstruction for the `mov` at `pc` (of
/// `width`) and the ALU op after it, if that op works on the moved-to
/// register and its source (when a register) is another one.
fn mov_then_op(ops: &[Op], pc: usize, width: Width) -> Option<Code> {
    let (mov, next) = (ops[pc], ops[pc + 1]);
    let (code, reg_src) = mov_then(width, next.code)?;
    // `op d, d` would read the moved value as the operand: keep it apart.
    if next.dst.0 != mov.dst.0 || mov.dst.0 == mov.src.0 || (reg_src && next.src.0 == mov.dst.0) {
        return None;
    }
    Some(code)
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

        // `mov d, s` fused with the ALU op in the next slot.
        macro_rules! mov_then {
            ($op:ident, 64, $reg:expr) => {{
                // SAFETY: `fuse` absorbed the next op (below n).
                let j = unsafe { &*ip.add(1) };
                let b = if $reg { r[j.src] } else { j.imm as i64 as u64 };
                r[d] = alu64(AluOp::$op, r[s], b);
                // SAFETY: ip + 1 < n, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
            }};
            ($op:ident, 32, $reg:expr) => {{
                // SAFETY: as for 64 bits.
                let j = unsafe { &*ip.add(1) };
                let b = if $reg { r[j.src] as u32 } else { j.imm as u32 };
                r[d] = u64::from(alu32(AluOp::$op, r[s] as u32, b));
                // SAFETY: as for 64 bits.
                ip = unsafe { ip.add(2) };
                continue;
            }};
        }
        // `mul64 d, ...` fused with the `add64 d, ...` in the next slot.
        macro_rules! mul_add {
            ($mul_reg:expr, $add_reg:expr) => {{
                // SAFETY: `fuse` absorbed the next op (below n).
                let j = unsafe { &*ip.add(1) };
                let m = if $mul_reg { r[s] } else { op.imm as i64 as u64 };
                let a = if $add_reg {
                    r[j.src]
                } else {
                    j.imm as i64 as u64
                };
                r[d] = r[d].wrapping_mul(m).wrapping_add(a);
                // SAFETY: ip + 1 < n, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
            }};
        }
        // `add64 d, imm` fused with the jump op in the next slot.
        macro_rules! add_k_jump {
            ($cond:ident, $reg:expr) => {{
                let v = r[d].wrapping_add(op.imm as i64 as u64);
                r[d] = v;
                // SAFETY: `fuse` made this op only where the next slot is
                // the jump it absorbed, below n.
                let j = unsafe { &*ip.add(1) };
                let other = if $reg { r[j.src] } else { j.imm as i64 as u64 };
                if cond64(JmpCond::$cond, v, other) {
                    goto!(j.off as u32 as usize);
                }
                // SAFETY: the jump is at ip + 1 < n, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
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
            Code::LeaK => {
                r[d] = r[s].wrapping_add(op.imm as i64 as u64);
                // SAFETY: `fuse` absorbed the next op, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
            }
            Code::LeaX => {
                r[d] = r[s].wrapping_add(r[RegIdx(op.off as u8)]);
                // SAFETY: as for LeaK.
                ip = unsafe { ip.add(2) };
                continue;
            }
            Code::LeaKX => {
                r[d] = r[s]
                    .wrapping_add(r[RegIdx(op.off as u8)])
                    .wrapping_add(op.imm as i64 as u64);
                // SAFETY: `fuse` absorbed the next two ops, so ip + 3 <= n.
                ip = unsafe { ip.add(3) };
                continue;
            }
            Code::AddKJEq64X => add_k_jump!(Eq, true),
            Code::AddKJEq64K => add_k_jump!(Eq, false),
            Code::AddKJGt64X => add_k_jump!(Gt, true),
            Code::AddKJGt64K => add_k_jump!(Gt, false),
            Code::AddKJGe64X => add_k_jump!(Ge, true),
            Code::AddKJGe64K => add_k_jump!(Ge, false),
            Code::AddKJSet64X => add_k_jump!(Set, true),
            Code::AddKJSet64K => add_k_jump!(Set, false),
            Code::AddKJNe64X => add_k_jump!(Ne, true),
            Code::AddKJNe64K => add_k_jump!(Ne, false),
            Code::AddKJSgt64X => add_k_jump!(Sgt, true),
            Code::AddKJSgt64K => add_k_jump!(Sgt, false),
            Code::AddKJSge64X => add_k_jump!(Sge, true),
            Code::AddKJSge64K => add_k_jump!(Sge, false),
            Code::AddKJLt64X => add_k_jump!(Lt, true),
            Code::AddKJLt64K => add_k_jump!(Lt, false),
            Code::AddKJLe64X => add_k_jump!(Le, true),
            Code::AddKJLe64K => add_k_jump!(Le, false),
            Code::AddKJSlt64X => add_k_jump!(Slt, true),
            Code::AddKJSlt64K => add_k_jump!(Slt, false),
            Code::AddKJSle64X => add_k_jump!(Sle, true),
            Code::AddKJSle64K => add_k_jump!(Sle, false),
            Code::MovSub64X => mov_then!(Sub, 64, true),
            Code::MovSub64K => mov_then!(Sub, 64, false),
            Code::MovMul64X => mov_then!(Mul, 64, true),
            Code::MovMul64K => mov_then!(Mul, 64, false),
            Code::MovDiv64X => mov_then!(Div, 64, true),
            Code::MovDiv64K => mov_then!(Div, 64, false),
            Code::MovSDiv64X => mov_then!(SDiv, 64, true),
            Code::MovSDiv64K => mov_then!(SDiv, 64, false),
            Code::MovOr64X => mov_then!(Or, 64, true),
            Code::MovOr64K => mov_then!(Or, 64, false),
            Code::MovAnd64X => mov_then!(And, 64, true),
            Code::MovAnd64K => mov_then!(And, 64, false),
            Code::MovLsh64X => mov_then!(Lsh, 64, true),
            Code::MovLsh64K => mov_then!(Lsh, 64, false),
            Code::MovRsh64X => mov_then!(Rsh, 64, true),
            Code::MovRsh64K => mov_then!(Rsh, 64, false),
            Code::MovMod64X => mov_then!(Mod, 64, true),
            Code::MovMod64K => mov_then!(Mod, 64, false),
            Code::MovSMod64X => mov_then!(SMod, 64, true),
            Code::MovSMod64K => mov_then!(SMod, 64, false),
            Code::MovXor64X => mov_then!(Xor, 64, true),
            Code::MovXor64K => mov_then!(Xor, 64, false),
            Code::MovArsh64X => mov_then!(Arsh, 64, true),
            Code::MovArsh64K => mov_then!(Arsh, 64, false),
            Code::MovSub32X => mov_then!(Sub, 32, true),
            Code::MovSub32K => mov_then!(Sub, 32, false),
            Code::MovMul32X => mov_then!(Mul, 32, true),
            Code::MovMul32K => mov_then!(Mul, 32, false),
            Code::MovDiv32X => mov_then!(Div, 32, true),
            Code::MovDiv32K => mov_then!(Div, 32, false),
            Code::MovSDiv32X => mov_then!(SDiv, 32, true),
            Code::MovSDiv32K => mov_then!(SDiv, 32, false),
            Code::MovOr32X => mov_then!(Or, 32, true),
            Code::MovOr32K => mov_then!(Or, 32, false),
            Code::MovAnd32X => mov_then!(And, 32, true),
            Code::MovAnd32K => mov_then!(And, 32, false),
            Code::MovLsh32X => mov_then!(Lsh, 32, true),
            Code::MovLsh32K => mov_then!(Lsh, 32, false),
            Code::MovRsh32X => mov_then!(Rsh, 32, true),
            Code::MovRsh32K => mov_then!(Rsh, 32, false),
            Code::MovMod32X => mov_then!(Mod, 32, true),
            Code::MovMod32K => mov_then!(Mod, 32, false),
            Code::MovSMod32X => mov_then!(SMod, 32, true),
            Code::MovSMod32K => mov_then!(SMod, 32, false),
            Code::MovXor32X => mov_then!(Xor, 32, true),
            Code::MovXor32K => mov_then!(Xor, 32, false),
            Code::MovArsh32X => mov_then!(Arsh, 32, true),
            Code::MovArsh32K => mov_then!(Arsh, 32, false),
            Code::MovMov64 => {
                r[d] = r[s];
                // SAFETY: `fuse` absorbed the next op (below n).
                let j = unsafe { &*ip.add(1) };
                r[j.dst] = r[j.src];
                // SAFETY: ip + 1 < n, so ip + 2 <= n.
                ip = unsafe { ip.add(2) };
                continue;
            }
            Code::MovRshKAndK64 | Code::MovRshXAndK64 => {
                // SAFETY: `fuse` absorbed the next two ops (below n), so
                // ip + 3 <= n.
                let (sh, and) = unsafe { (&*ip.add(1), &*ip.add(2)) };
                let by = if code == Code::MovRshXAndK64 {
                    r[sh.src]
                } else {
                    sh.imm as i64 as u64
                };
                r[d] = alu64(AluOp::Rsh, r[s], by) & (and.imm as i64 as u64);
                // SAFETY: as above.
                ip = unsafe { ip.add(3) };
                continue;
            }
            Code::MulKAddK64 => mul_add!(false, false),
            Code::MulKAddX64 => mul_add!(false, true),
            Code::MulXAddK64 => mul_add!(true, false),
            Code::MulXAddX64 => mul_add!(true, true),
            Code::RshKAndK64 => {
                // SAFETY: `fuse` absorbed the next op (below n).
                let j = unsafe { &*ip.add(1) };
                let v = alu64(AluOp::Rsh, r[d], op.imm as i64 as u64);
                r[d] = v & (j.imm as i64 as u64);
                // SAFETY: ip + 1 < n, so ip + 2 <= n.
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oxbpf_isa::asm::assemble;
    use oxbpf_runtime::{Engine, HelperTable, Program, RunState, SafetyMode, Trapped};

    use super::{Code, FastInterpreter};
    use crate::Interpreter;

    /// Runs `src` on interp-fast in both modes, checks the reference
    /// interpreter agrees (value and remaining budget), and returns r0.
    fn run(src: &str) -> Result<u64, Trapped> {
        let insns = assemble(src).expect("assembles");
        let table = Arc::new(HelperTable::new("none"));
        let checked = Program::checked(insns.clone(), table.clone(), &[]).expect("load check");
        let verified = Program::new_unchecked(insns, table, SafetyMode::Verified);
        let mut results = Vec::new();
        for p in [&checked, &verified] {
            for engine in [&FastInterpreter as &dyn Engine, &Interpreter] {
                let mut state = RunState::new();
                state.budget = 1000;
                let r = engine.load(p).expect("loads").run(&mut state, [0; 5]);
                results.push((
                    r,
                    if p.mode() == SafetyMode::Checked {
                        state.budget
                    } else {
                        0
                    },
                ));
            }
        }
        // Same outcome everywhere; same budget left per mode.
        assert!(
            results[0] == results[1] && results[2] == results[3] && results[0].0 == results[2].0,
            "{results:?}"
        );
        results[0].0
    }

    fn codes(src: &str) -> Vec<Code> {
        let insns = assemble(src).expect("assembles");
        let table = Arc::new(HelperTable::new("none"));
        let p = Program::new_unchecked(insns, table, SafetyMode::Verified);
        FastInterpreter
            .prepare(&p)
            .ops
            .iter()
            .map(|o| o.code)
            .collect()
    }

    #[test]
    fn mov_then_adds_fuse_and_compute_the_same() {
        // -1 + 7 + 5 wraps to 11.
        let src = "mov %r1, -1\nmov %r2, 5\nmov %r0, %r1\nadd %r0, 7\nadd %r0, %r2\nexit";
        assert_eq!(codes(src)[2], Code::LeaKX);
        assert_eq!(run(src), Ok(11));
        let src = "mov %r7, 40\nmov %r8, 2\nmov %r0, %r7\nadd %r0, %r8\nexit";
        assert_eq!(codes(src)[2], Code::LeaX);
        assert_eq!(run(src), Ok(42));
        let src = "mov %r1, 0\nmov %r0, %r1\nadd %r0, -0x80000000\nexit";
        assert_eq!(codes(src)[1], Code::LeaK);
        assert_eq!(run(src), Ok(0xffff_ffff_8000_0000));
        // Index equal to the base: 2 * r1.
        assert_eq!(run("mov %r1, 21\nmov %r0, %r1\nadd %r0, %r1\nexit"), Ok(42));
        // `add d, d` reads the value being built: not absorbed.
        let src = "mov %r1, 21\nmov %r0, %r1\nadd %r0, 1\nadd %r0, %r0\nexit";
        assert_eq!(codes(src)[1], Code::LeaK);
        assert_eq!(run(src), Ok(44));
        // A second immediate stays an add of its own.
        assert_eq!(
            run("mov %r1, 10\nmov %r0, %r1\nadd %r0, 1\nadd %r0, 2\nexit"),
            Ok(13)
        );
    }

    #[test]
    fn an_add_that_is_a_jump_target_is_not_absorbed() {
        // The jump lands on `add %r0, 3` with r0 = 0.
        let src = "mov %r0, 0\nmov %r1, 5\nja +1\nmov %r0, %r1\nadd %r0, 3\nexit";
        assert_eq!(codes(src)[3], Code::Mov64X);
        assert_eq!(run(src), Ok(3));
    }

    #[test]
    fn add_then_jump_fuses_and_loops_the_same() {
        // Sum of 0..10 = 45, the counter closing the loop with `jlt`.
        let src = "mov %r0, 0\nmov %r1, 0\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 10, -3\nexit";
        assert_eq!(codes(src)[3], Code::AddKJLt64K);
        assert_eq!(run(src), Ok(45));
        // Register comparison, signed condition, counting down through 0:
        // r1 = 3, 1, -1 (r0 counts 3 iterations).
        let src = "mov %r0, 0\nmov %r1, 5\nmov %r2, 0\nadd %r0, 1\nadd %r1, -2\n\
                   jsgt %r1, %r2, -3\nexit";
        assert_eq!(codes(src)[4], Code::AddKJSgt64X);
        assert_eq!(run(src), Ok(3));
        // A jump on another register is not fused.
        let src = "mov %r0, 0\nmov %r1, 0\nadd %r0, 1\njeq %r1, 0, +1\nmov %r0, 9\nexit";
        assert_eq!(codes(src)[2], Code::Add64K);
        assert_eq!(run(src), Ok(1));
    }

    #[test]
    fn mov_then_an_alu_op_fuses_into_three_address_ops() {
        let cases: &[(&str, usize, Code, u64)] = &[
            (
                "mov %r1, 100\nmov %r2, 7\nmov %r0, %r1\ndiv %r0, %r2\nexit",
                2,
                Code::MovDiv64X,
                14,
            ),
            (
                "mov %r1, 100\nmov %r2, 7\nmov %r0, %r1\nmod %r0, %r2\nexit",
                2,
                Code::MovMod64X,
                2,
            ),
            // RFC 9669 §4.1: division by zero gives 0, modulo keeps dst.
            (
                "mov %r1, 100\nmov %r2, 0\nmov %r0, %r1\ndiv %r0, %r2\nexit",
                2,
                Code::MovDiv64X,
                0,
            ),
            (
                "mov %r1, 100\nmov %r2, 0\nmov %r0, %r1\nmod %r0, %r2\nexit",
                2,
                Code::MovMod64X,
                100,
            ),
            (
                "mov %r1, 0xabc\nmov %r0, %r1\nrsh %r0, 4\nexit",
                1,
                Code::MovRsh64K,
                0xab,
            ),
            // mov32 truncates; mul32 wraps and zero-extends.
            (
                "lddw %r1, 0x100000010\nmov32 %r0, %r1\nmul32 %r0, 3\nexit",
                2,
                Code::MovMul32K,
                0x30,
            ),
            (
                "mov %r1, -16\nmov32 %r0, %r1\narsh32 %r0, 2\nexit",
                1,
                Code::MovArsh32K,
                0xffff_fffc,
            ),
            // `sub d, d` reads the moved value: not fused.
            (
                "mov %r1, 9\nmov %r0, %r1\nsub %r0, %r0\nexit",
                1,
                Code::Mov64X,
                0,
            ),
            // Multiply-add, wrapping: 2^63 * 2 + 5 = 5.
            (
                "lddw %r0, 0x8000000000000000\nmul %r0, 2\nadd %r0, 5\nexit",
                2,
                Code::MulKAddK64,
                5,
            ),
            (
                "mov %r0, 6\nmov %r1, 7\nmov %r2, -2\nmul %r0, %r1\nadd %r0, %r2\nexit",
                3,
                Code::MulXAddX64,
                40,
            ),
            // `add d, d` after the product: 2 * (6 * 7), not fused.
            (
                "mov %r0, 6\nmul %r0, 7\nadd %r0, %r0\nexit",
                1,
                Code::Mul64K,
                84,
            ),
            // Two moves, the second reading the first's result.
            (
                "mov %r1, 5\nmov %r2, %r1\nmov %r0, %r2\nexit",
                1,
                Code::MovMov64,
                5,
            ),
            (
                "mov %r1, 5\nmov %r2, 7\nmov %r0, %r1\nmov %r1, %r2\nadd %r0, %r1\nexit",
                2,
                Code::MovMov64,
                12,
            ),
            // Bit fields of another register: (0xabcd >> 8) & 0xf0.
            (
                "mov %r1, 0xabcd\nmov %r0, %r1\nrsh %r0, 8\nand %r0, 0xf0\nexit",
                1,
                Code::MovRshKAndK64,
                0xa0,
            ),
            (
                "mov %r1, 0xabcd\nmov %r2, 4\nmov %r0, %r1\nrsh %r0, %r2\nand %r0, 0xff\nexit",
                2,
                Code::MovRshXAndK64,
                0xbc,
            ),
            // Shift counts are masked to 6 bits (RFC 9669 §4.1): 68 is 4.
            (
                "mov %r1, 0xabcd\nmov %r2, 68\nmov %r0, %r1\nrsh %r0, %r2\nand %r0, 0xff\nexit",
                2,
                Code::MovRshXAndK64,
                0xbc,
            ),
            // `rsh d, d`: not this superinstruction; (5 >> 5) & 1 = 0.
            (
                "mov %r1, 5\nmov %r0, %r1\nrsh %r0, %r0\nand %r0, 1\nexit",
                1,
                Code::Mov64X,
                0,
            ),
            // A bit field: (0xabcd >> 4) & 0xf.
            (
                "mov %r0, 0xabcd\nrsh %r0, 4\nand %r0, 0xf\nexit",
                1,
                Code::RshKAndK64,
                0xc,
            ),
        ];
        for &(src, slot, code, want) in cases {
            assert_eq!(codes(src)[slot], code, "{src}");
            assert_eq!(run(src), Ok(want), "{src}");
        }
    }

    #[test]
    fn a_fused_loop_runs_out_of_budget_where_the_reference_does() {
        // Checked mode only: verified programs have no budget.
        let insns = assemble("mov %r1, 0\nadd %r1, 1\njne %r1, 0, -2\nmov %r0, 0\nexit")
            .expect("assembles");
        let table = Arc::new(HelperTable::new("none"));
        let p = Program::checked(insns, table, &[]).expect("load check");
        let outcome = |engine: &dyn Engine| {
            let mut state = RunState::new();
            state.budget = 1000;
            let r = engine.load(&p).expect("loads").run(&mut state, [0; 5]);
            (r, state.budget)
        };
        let fast = outcome(&FastInterpreter);
        assert!(fast.0.is_err(), "{fast:?}");
        assert_eq!(fast, outcome(&Interpreter));
    }
}
