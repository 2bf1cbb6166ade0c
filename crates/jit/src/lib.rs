//! oxbpf's x86-64 JIT compiler for eBPF.
//!
//! [`Jit`] is an [`Engine`]: it compiles a [`Program`] to x86-64 machine
//! code once, and the resulting [`JitExecutable`] runs it many times, from
//! any number of threads, each run with its own
//! [`RunState`](oxbpf_runtime::RunState).
//!
//! Key design decisions:
//!
//! - **Everything is native.** Every instruction the interpreter executes
//!   compiles to machine code; there is no interpreter fallback at all.
//!   Generated code leaves native code only to call helpers (through a
//!   small `extern "sysv64"` trampoline that invokes the
//!   [`HelperFn`](oxbpf_runtime::HelperFn) of the program's helper table)
//!   and, in checked mode, to ask the run's regions about a memory access
//!   that is neither on the stack nor in the last region that allowed one.
//! - **Registers stay in registers**: eBPF registers are mapped one to one
//!   onto host registers, as in the Linux kernel's JIT (r0=rax, r1=rdi,
//!   r2=rsi, r3=rdx, r4=rcx, r5=r8, r6=rbx, r7=r13, r8=r14, r9=r15,
//!   r10=rbp), so straight-line code touches no memory. [`JitOptions`]
//!   selects processor extensions (BMI2 shifts).
//! - **Both safety modes.** In checked mode every load, store and atomic is
//!   checked before it happens (an inline range check for the stack, a
//!   slow path for other regions) and the instruction budget is charged at
//!   every basic block entry, exactly as [`oxbpf_runtime::blocks`]
//!   prescribes, so a trap has the same code, slot and remaining budget as
//!   in the interpreter. Verified programs run with no checks and no budget
//!   (the budget is a checked-mode limit: `Executable::run` documents it so,
//!   and the interpreter does the same), on only as many stack frames as
//!   their call graph can use.
//! - **W^X**: code is assembled (with `dynasmrt`) into a plain buffer,
//!   copied into a fresh read-write mapping, and that mapping is switched to
//!   read-execute before it ever runs; it is never writable and executable
//!   at once.
//! - **Inspectable**: [`disassemble_jit`] returns, per eBPF instruction, the
//!   x86 instructions it became (decoded and formatted with `iced-x86`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use oxbpf_isa::{Insn, AluOp, Operand, Reg, Width};
//! use oxbpf_jit::Jit;
//! use oxbpf_runtime::{Engine, HelperTable, Program, RunState};
//!
//! let insns = vec![
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(42) },
//!     Insn::Exit,
//! ];
//! let program = Program::checked(insns, Arc::new(HelperTable::new("none")), &[]).unwrap();
//! let exe = Jit.load(&program).unwrap();
//! assert_eq!(exe.run(&mut RunState::new(), [0; 5]), Ok(42));
//! ```

mod codegen;
mod ctx;
mod exec;
mod frames;
mod listing;

pub use codegen::JitOptions;
pub use exec::JitExecutable;
pub use listing::{InsnListing, JitListing, X86Line, disassemble_jit};

use oxbpf_runtime::{Engine, EngineError, Executable, Program};

/// The x86-64 JIT engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Jit;

impl Jit {
    /// Compiles `program`, returning the concrete executable type.
    pub fn compile(&self, program: &Program) -> Result<JitExecutable, EngineError> {
        JitExecutable::new(program)
    }
}

impl Engine for Jit {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError> {
        Ok(Box::new(JitExecutable::new(program)?))
    }
}
