//! The reference interpreter.
//!
//! Simple and obviously correct first: it executes the decoded [`oxbpf_isa::Insn`]s
//! directly, one `match` per slot, with exact RFC 9669 semantics and the
//! kernel's answers where the RFC is silent (see [`semantics`]). Other
//! engines are tested against it.
//!
//! Design decisions:
//!
//! - **Stack.** Each run owns `frames * 512` bytes on the host stack
//!   (`frames` is [`CHECKED_MAX_FRAMES`] in checked mode and
//!   [`KERNEL_MAX_FRAMES`] in verified mode), registered as one
//!   [`RegionKind::Stack`] region of the [`RunState`] while the run lasts.
//!   Frame 0 is the top 512 bytes; a bpf-to-bpf call at depth `d` gets
//!   `r10 = top - d * 512` and saves `r6`-`r10` and its return slot.
//!   Exceeding `frames` traps with [`Trap::CallDepth`] at the call.
//! - **Checked mode.** Every load, store and atomic is checked with
//!   [`oxbpf_runtime::Regions::check`] and traps at its slot; the budget is
//!   charged when entering each basic block ([`oxbpf_runtime::blocks`]) and
//!   traps with [`Trap::BudgetExhausted`] at the block's first slot.
//!   Verified mode does neither: the verifier proved safety and termination.
//! - **Calls.** Helpers come from the program's [`HelperTable`]; `callx`
//!   takes a helper id from its register (uBPF's semantics, which the
//!   conformance suite tests). A helper may end the program
//!   ([`oxbpf_runtime::HelperExit::Exit`]).
//! - **A faster engine.** [`FastInterpreter`] (`interp-fast`) pre-decodes
//!   into flat ops with resolved targets and is kept identical to this
//!   reference by a lockstep test over random programs (`tests/lockstep.rs`).
//! - **Tracing.** [`InterpProgram::run_traced`] reports each completed
//!   instruction with the registers it changed. It shares the loop with
//!   [`Executable::run`], which is instantiated with a no-op tracer, so
//!   normal runs pay nothing for it.
//!
//! ```
//! use std::sync::Arc;
//! use oxbpf_interp::Interpreter;
//! use oxbpf_isa::{AluOp, Insn, Operand, Reg, Width};
//! use oxbpf_runtime::{Engine, Program, RunState, helpers::conformance};
//!
//! // mov32 %r0, 7 ; exit
//! let insns = vec![
//!     Insn::Alu { width: Width::W32, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(7) },
//!     Insn::Exit,
//! ];
//! let program = Program::checked(insns, Arc::new(conformance::table()), &[]).unwrap();
//! let exe = Interpreter.load(&program).unwrap();
//! assert_eq!(exe.run(&mut RunState::new(), [0; 5]), Ok(7));
//! ```
//!
//! [`CHECKED_MAX_FRAMES`]: oxbpf_abi::limits::CHECKED_MAX_FRAMES
//! [`KERNEL_MAX_FRAMES`]: oxbpf_abi::limits::KERNEL_MAX_FRAMES
//! [`RegionKind::Stack`]: oxbpf_runtime::RegionKind::Stack
//! [`Trap::CallDepth`]: oxbpf_abi::Trap::CallDepth
//! [`Trap::BudgetExhausted`]: oxbpf_abi::Trap::BudgetExhausted
//! [`HelperTable`]: oxbpf_runtime::HelperTable

mod exec;
pub mod fast;
mod memory;
pub mod semantics;
mod trace;

use oxbpf_runtime::{Engine, EngineError, Executable, Program, RunState, Trapped};

pub use fast::{FastInterpreter, FastProgram};
pub use trace::TraceEvent;

/// The interpreter engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Interpreter;

impl Interpreter {
    /// Prepares `program` for this engine, keeping the concrete type (for
    /// [`InterpProgram::run_traced`]). Never fails: every instruction the
    /// decoder accepts has a meaning here, or traps when run.
    pub fn prepare(&self, program: &Program) -> InterpProgram {
        InterpProgram {
            program: program.clone(),
        }
    }

    /// Runs `program` once, calling `trace` after every instruction that
    /// completes (see [`InterpProgram::run_traced`]).
    pub fn run_traced(
        &self,
        program: &Program,
        state: &mut RunState<'_>,
        args: [u64; 5],
        trace: &mut dyn FnMut(&TraceEvent<'_>),
    ) -> Result<u64, Trapped> {
        self.prepare(program).run_traced(state, args, trace)
    }
}

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError> {
        Ok(Box::new(self.prepare(program)))
    }
}

/// A program loaded into the [`Interpreter`].
#[derive(Debug, Clone)]
pub struct InterpProgram {
    program: Program,
}

impl InterpProgram {
    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Runs once like [`Executable::run`], calling `trace` after every
    /// instruction that completes, with the registers after it. An
    /// instruction that traps produces no event (the `Err` names its slot);
    /// the final `exit` and a helper ending the program do.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use oxbpf_interp::Interpreter;
    /// # use oxbpf_isa::{AluOp, Insn, Operand, Reg, Width};
    /// # use oxbpf_runtime::{Program, RunState, helpers::conformance};
    /// let insns = vec![
    ///     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(3) },
    ///     Insn::Exit,
    /// ];
    /// let program = Program::checked(insns, Arc::new(conformance::table()), &[]).unwrap();
    /// let mut lines = Vec::new();
    /// let r0 = Interpreter.prepare(&program).run_traced(&mut RunState::new(), [0; 5], &mut |e| {
    ///     lines.push(e.to_string());
    /// });
    /// assert_eq!(r0, Ok(3));
    /// assert_eq!(lines[0], "0: r0 = 0x3");
    /// ```
    pub fn run_traced(
        &self,
        state: &mut RunState<'_>,
        args: [u64; 5],
        trace: &mut dyn FnMut(&TraceEvent<'_>),
    ) -> Result<u64, Trapped> {
        // Tail-call targets run untraced (they are other executables).
        oxbpf_runtime::tail_call::drive(state, args, |state, args| {
            exec::run(&self.program, state, args, &mut trace::DynTracer(trace))
        })
    }
}

impl Executable for InterpProgram {
    fn run(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        // Tail calls: see oxbpf_runtime::tail_call.
        oxbpf_runtime::tail_call::drive(state, args, |state, args| {
            exec::run(&self.program, state, args, &mut exec::NoTrace)
        })
    }
}
