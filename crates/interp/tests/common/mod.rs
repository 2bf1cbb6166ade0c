//! Builders for hand-assembled test programs and a runner.
//!
//! Programs are built from [`Insn`] values directly, so these tests do not
//! depend on the assembler. Jump offsets are written by hand: a jump at slot
//! `pc` with offset `off` lands on slot `pc + 1 + off`.

// Each test file uses a different subset of the builders.
#![allow(dead_code)]

use std::sync::Arc;

use oxbpf_interp::Interpreter;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};
use oxbpf_runtime::{Engine, Program, RunState, SafetyMode, Trapped, helpers::conformance};

pub const R0: Reg = Reg::R0;
pub const R1: Reg = Reg::R1;
pub const R2: Reg = Reg::R2;
pub const R3: Reg = Reg::R3;
pub const R4: Reg = Reg::R4;
pub const R5: Reg = Reg::R5;
pub const R6: Reg = Reg::R6;
pub const R7: Reg = Reg::R7;
pub const R8: Reg = Reg::R8;
pub const R9: Reg = Reg::R9;
pub const R10: Reg = Reg::R10;

/// Something that appends instructions to a program.
pub trait Emit {
    fn emit(self, out: &mut Vec<Insn>);
}

impl Emit for Insn {
    fn emit(self, out: &mut Vec<Insn>) {
        out.push(self);
    }
}

impl Emit for [Insn; 2] {
    fn emit(self, out: &mut Vec<Insn>) {
        out.extend(self);
    }
}

/// Builds a slot-indexed program from instructions and `lddw` pairs.
#[macro_export]
macro_rules! prog {
    ($($e:expr),* $(,)?) => {{
        let mut v: Vec<oxbpf_isa::Insn> = Vec::new();
        $( $crate::common::Emit::emit($e, &mut v); )*
        v
    }};
}

pub fn k(imm: i32) -> Operand {
    Operand::Imm(imm)
}

pub fn x(r: Reg) -> Operand {
    Operand::Reg(r)
}

pub fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

pub fn alu32(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst,
        src,
    }
}

/// `mov dst, imm` (64-bit, sign-extended immediate).
pub fn mov(dst: Reg, imm: i32) -> Insn {
    alu64(AluOp::Mov, dst, k(imm))
}

/// `mov dst, src` (64-bit).
pub fn movr(dst: Reg, src: Reg) -> Insn {
    alu64(AluOp::Mov, dst, x(src))
}

/// `lddw dst, v`: two slots.
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

pub fn end(kind: Endian, bits: u8, dst: Reg) -> Insn {
    Insn::End { kind, bits, dst }
}

pub fn jmp(cond: JmpCond, dst: Reg, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W64,
        cond,
        dst,
        src,
        off,
    }
}

pub fn jmp32(cond: JmpCond, dst: Reg, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W32,
        cond,
        dst,
        src,
        off,
    }
}

pub fn ja(off: i32) -> Insn {
    Insn::Ja { off, wide: false }
}

pub fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst,
        src,
        off,
    }
}

pub fn ldxs(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: true,
        dst,
        src,
        off,
    }
}

pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: k(imm),
    }
}

pub fn stx(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: x(src),
    }
}

pub fn atomic(size: Size, op: AtomicOp, fetch: bool, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Atomic {
        size,
        op,
        fetch,
        dst,
        src,
        off,
    }
}

pub fn call(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}

pub fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}

pub fn callx(r: Reg) -> Insn {
    Insn::Call(CallTarget::Reg(r))
}

pub const EXIT: Insn = Insn::Exit;

/// A checked program in the conformance environment; `r1`-`r5` count as
/// written at entry so that tests can pass arguments.
pub fn checked(insns: Vec<Insn>) -> Program {
    Program::checked(insns, Arc::new(conformance::table()), &[R1, R2, R3, R4, R5])
        .expect("test program passes the load checks")
}

/// The same program as if the verifier had accepted it.
pub fn verified(insns: Vec<Insn>) -> Program {
    Program::new_unchecked(insns, Arc::new(conformance::table()), SafetyMode::Verified)
}

/// Runs a program in `state`.
pub fn run_in(program: &Program, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
    Interpreter
        .load(program)
        .expect("the interpreter loads every program")
        .run(state, args)
}

/// Runs a checked program with a fresh state and no memory.
pub fn run(insns: Vec<Insn>, args: [u64; 5]) -> Result<u64, Trapped> {
    run_in(&checked(insns), &mut RunState::new(), args)
}

/// Runs a checked program and returns `r0`, failing the test on a trap.
pub fn r0(insns: Vec<Insn>) -> u64 {
    run(insns, [0; 5]).expect("program returns")
}
pub mod suite;
