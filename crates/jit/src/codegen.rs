//! The compiler: eBPF instructions to x86-64 machine code.
//!
//! # Register mapping
//!
//! As in the kernel's JIT (`arch/x86/net/bpf_jit_comp.c`, `reg2hex`), every
//! eBPF register lives in one host register for the whole run, so
//! straight-line code touches no memory:
//!
//! | eBPF | r0  | r1  | r2  | r3  | r4  | r5 | r6  | r7  | r8  | r9  | r10 |
//! |------|-----|-----|-----|-----|-----|----|-----|-----|-----|-----|-----|
//! | host | rax | rdi | rsi | rdx | rcx | r8 | rbx | r13 | r14 | r15 | rbp |
//!
//! `r1`..`r5` are the System V argument registers, so a helper call needs no
//! argument shuffling; `r6`..`r10` are callee-saved, so they survive helper
//! calls for free. The remaining host registers: `r12` points to the run's
//! [`JitCtx`](crate::ctx::JitCtx), `r9` holds the instruction budget in
//! checked mode, `r10` and `r11` are scratch.
//!
//! # Layout
//!
//! ```text
//! prologue   save host registers, load r1-r5 / r10 / budget, `call` slot 0
//! done       store budget, restore host registers, return r0
//! trap       record trap code and slot, reset rsp, jump to done
//! slot 0..n  one piece per instruction, in order (leaders begin with the
//!            budget check in checked mode)
//! cold       per-site stubs: trap exits, slow memory checks, helper status
//! shared     the slow-path memory check subroutines
//! ```
//!
//! Every eBPF function, the main program included, is entered with a host
//! `call` and left with `ret` (eBPF `exit`), so `exit` needs no knowledge of
//! the frame it is in. A local call pushes `r6`..`r10`, moves `r10` down one
//! 512-byte frame and `call`s the target; a trap or a helper's `Exit`
//! unwinds every frame at once by restoring the saved `rsp`.

use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm, x64::X64Relocation};
use oxbpf_abi::Trap;
use oxbpf_abi::limits::STACK_PER_FRAME;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};
use oxbpf_runtime::{EngineError, HelperTable, Program, SafetyMode};

use crate::ctx::{
    self, OFF_ARGS, OFF_BUDGET, OFF_CALLX_ID, OFF_FRAME_TOP, OFF_HELPER_FN, OFF_MIN_CALL_FP,
    OFF_READ_CACHE, OFF_SAVED_RSP, OFF_STACK_BASE, OFF_TRAP_CODE, OFF_TRAP_PC, OFF_WRITE_CACHE,
    STATUS_EXIT, spill,
};

type Ops = VecAssembler<X64Relocation>;

macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

// Host register numbers as x86-64 encodes them.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RBX: u8 = 3;
const RBP: u8 = 5;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
const R10: u8 = 10;
const R13: u8 = 13;
const R14: u8 = 14;
const R15: u8 = 15;

/// Host register of each eBPF register (see the module docs).
const REG_MAP: [u8; 11] = [RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP];

fn host(r: Reg) -> u8 {
    REG_MAP[r.index()]
}

/// Spill slot layout used by the shared check subroutines: slot 0 holds
/// the trapping slot index, 1.. the saved caller-saved registers.
const SPILL_PC: usize = 0;
/// Spill slot that division uses to save `rdx`, and atomics `rax`.
const SPILL_TMP: usize = 10;

/// Where a checked memory access goes: `[base + disp]`.
#[derive(Clone, Copy)]
struct Mem {
    base: u8,
    disp: i32,
}

/// Out-of-line code, emitted after all slots.
enum Cold {
    /// Stop the run with `trap` at slot `pc`; first give back `refund`
    /// budget (a failed block-entry charge subtracted it already).
    Trap {
        label: DynamicLabel,
        pc: usize,
        trap: Trap,
        refund: u32,
    },
    /// Neither the stack nor the cached region holds the access at `r10`:
    /// call the shared slow path, then resume at `back`.
    MemCheck {
        label: DynamicLabel,
        back: DynamicLabel,
        pc: usize,
        size: Size,
        write: bool,
    },
    /// A helper call returned a non-zero status in `rdx`.
    CallStatus { label: DynamicLabel, pc: usize },
}

/// Machine code for one program, with the offsets a listing needs.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// The code; position independent (only relative jumps, and absolute
    /// addresses of Rust functions).
    pub code: Vec<u8>,
    /// Offset of the code of each slot (an `lddw`'s second slot gets the
    /// offset where the next slot's code starts).
    pub slot_offsets: Vec<usize>,
    /// Offset where the last slot's code ends.
    pub slots_end: usize,
    /// Bytes of eBPF stack the code expects (`frames * 512`).
    pub stack_len: usize,
}

/// The compiler state for one program.
struct Compiler<'p> {
    ops: Ops,
    insns: &'p [Insn],
    program: &'p Program,
    helpers: &'p HelperTable,
    checked: bool,
    stack_len: usize,
    slot_labels: Vec<DynamicLabel>,
    slot_offsets: Vec<usize>,
    cold: Vec<Cold>,
    done: DynamicLabel,
    trap_common: DynamicLabel,
    helper_exit: DynamicLabel,
    /// Shared slow-path check subroutines, by `[size index][write]`,
    /// created on first use.
    check_subs: [[Option<DynamicLabel>; 2]; 4],
}

fn unsupported(index: usize, what: &'static str) -> EngineError {
    EngineError::Unsupported {
        engine: "jit",
        index,
        what,
    }
}

/// Compiles `program` for a stack of `frames` 512-byte frames.
pub(crate) fn compile(program: &Program, frames: usize) -> Result<Compiled, EngineError> {
    let insns = program.insns();
    // The JIT keeps r10 in rbp and derives frames from it; RFC 9669 §2.4
    // makes r10 read-only and the kernel refuses writes to it
    // ("frame pointer is read only", check_reg_arg in verifier.c).
    for (pc, insn) in insns.iter().enumerate() {
        if writes_fp(insn) {
            return Err(unsupported(
                pc,
                "a write to the read-only frame pointer r10",
            ));
        }
    }
    let mut ops = Ops::new_with_capacity(
        0,
        insns.len() * 24 + 256,
        0,
        0,
        insns.len() + 8,
        0,
        insns.len() * 2,
    );
    let slot_labels = (0..insns.len()).map(|_| ops.new_dynamic_label()).collect();
    let done = ops.new_dynamic_label();
    let trap_common = ops.new_dynamic_label();
    let helper_exit = ops.new_dynamic_label();
    let mut c = Compiler {
        ops,
        insns,
        program,
        helpers: program.helpers(),
        checked: program.mode() == SafetyMode::Checked,
        stack_len: frames * STACK_PER_FRAME,
        slot_labels,
        slot_offsets: vec![0; insns.len()],
        cold: Vec::new(),
        done,
        trap_common,
        helper_exit,
        check_subs: [[None; 2]; 4],
    };
    c.prologue();
    for pc in 0..insns.len() {
        c.slot(pc)?;
    }
    let slots_end = c.ops.offset().0;
    // Programs are checked not to fall off the end; should one do so
    // anyway, stop it rather than run into the out-of-line code.
    let last = insns.len() - 1;
    let end = c.trap_stub(last, Trap::Unsupported, 0);
    asm!(c.ops ; jmp =>end);
    c.emit_cold();
    c.emit_check_subs();
    let Compiler {
        ops,
        slot_offsets,
        stack_len,
        ..
    } = c;
    let code = ops.finalize().map_err(|e| EngineError::Resource {
        engine: "jit",
        reason: format!("assembler: {e}"),
    })?;
    Ok(Compiled {
        code,
        slot_offsets,
        slots_end,
        stack_len,
    })
}

/// Whether `insn` writes `r10`.
fn writes_fp(insn: &Insn) -> bool {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::End { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::Lddw { dst, .. } => dst == Reg::R10,
        Insn::Atomic { op, fetch, src, .. } => {
            src == Reg::R10 && (fetch || matches!(op, AtomicOp::Xchg))
        }
        _ => false,
    }
}

impl Compiler<'_> {
    fn prologue(&mut self) {
        asm!(self.ops
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; mov r12, rdi
            ; mov rdi, [r12 + OFF_ARGS]
            ; mov rsi, [r12 + OFF_ARGS + 8]
            ; mov rdx, [r12 + OFF_ARGS + 16]
            ; mov rcx, [r12 + OFF_ARGS + 24]
            ; mov r8, [r12 + OFF_ARGS + 32]
            ; mov rbp, [r12 + OFF_FRAME_TOP]
            // Registers the program may not read before writing start at
            // 0 anyway, so a run never depends on leftovers.
            ; xor eax, eax
            ; xor ebx, ebx
            ; xor r13d, r13d
            ; xor r14d, r14d
            ; xor r15d, r15d
        );
        if self.checked {
            asm!(self.ops ; mov r9, [r12 + OFF_BUDGET]);
        }
        // Six pushes after the caller's return address leave rsp 8 modulo
        // 16; the `call` makes it 0 in every eBPF function body, as the
        // System V ABI wants at helper calls (a local call pushes 5
        // registers plus the return address, keeping it).
        let entry = self.slot_labels[0];
        let (done, trap_common, helper_exit) = (self.done, self.trap_common, self.helper_exit);
        asm!(self.ops
            ; mov [r12 + OFF_SAVED_RSP], rsp
            ; call =>entry
            ; =>done
        );
        if self.checked {
            asm!(self.ops ; mov [r12 + OFF_BUDGET], r9);
        }
        asm!(self.ops
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
            // r10 = slot, r11 = trap code.
            ; =>trap_common
            ; mov [r12 + OFF_TRAP_PC], r10
            ; mov [r12 + OFF_TRAP_CODE], r11
            // rax = r0 for a helper's Exit.
            ; =>helper_exit
            ; mov rsp, [r12 + OFF_SAVED_RSP]
            ; jmp =>done
        );
    }

    /// A stub that traps with `trap` at `pc`.
    fn trap_stub(&mut self, pc: usize, trap: Trap, refund: u32) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        self.cold.push(Cold::Trap {
            label,
            pc,
            trap,
            refund,
        });
        label
    }

    fn slot(&mut self, pc: usize) -> Result<(), EngineError> {
        self.slot_offsets[pc] = self.ops.offset().0;
        let insn = self.insns[pc];
        if matches!(insn, Insn::LddwHi) {
            return Ok(());
        }
        let label = self.slot_labels[pc];
        asm!(self.ops ; =>label);
        if self.checked {
            let cost = self.program.blocks().cost(pc);
            if cost != 0 {
                self.charge(pc, cost)?;
            }
        }
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, host(dst), src),
            Insn::End { kind, bits, dst } => self.end(kind, bits, host(dst)),
            Insn::Ja { .. } => {
                let t = self.target(pc, &insn);
                asm!(self.ops ; jmp =>t);
            }
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let t = self.target(pc, &insn);
                self.jmp(width, cond, host(dst), src, t);
            }
            Insn::Call(target) => self.call(pc, target),
            Insn::Exit => asm!(self.ops ; ret),
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => self.load(pc, size, signed, host(dst), src, off),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.store(pc, size, dst, off, src),
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            } => self.atomic(pc, size, op, fetch, dst, host(src), off),
            Insn::Lddw {
                dst,
                src: LddwSrc::Imm,
                imm,
            } => self.mov_imm64(host(dst), imm),
            Insn::Lddw { .. } => {
                return Err(unsupported(
                    pc,
                    "lddw with a pseudo source (resolve it before loading)",
                ));
            }
            Insn::LddwHi => {}
            // Legacy packet access has no packet in this environment; the
            // interpreter traps the same way when it reaches it.
            Insn::LdPacket { .. } => {
                let stub = self.trap_stub(pc, Trap::Unsupported, 0);
                asm!(self.ops ; jmp =>stub);
            }
        }
        Ok(())
    }

    /// Charges a block's cost at its leader (see `oxbpf_runtime::blocks`):
    /// trap if the budget holds less, else subtract.
    fn charge(&mut self, pc: usize, cost: u32) -> Result<(), EngineError> {
        let imm = i32::try_from(cost).map_err(|_| unsupported(pc, "a block this long"))?;
        let stub = self.trap_stub(pc, Trap::BudgetExhausted, cost);
        // The borrow of an unsigned subtraction is exactly budget < cost.
        asm!(self.ops
            ; sub r9, imm
            ; jb =>stub
        );
        Ok(())
    }

    /// The label of the slot a jump at `pc` leads to.
    fn target(&self, pc: usize, insn: &Insn) -> DynamicLabel {
        // Decoding checked that targets are in range.
        let t = insn.branch_target(pc).unwrap_or(pc as i64 + 1) as usize;
        self.slot_labels[t]
    }

    fn mov_imm64(&mut self, d: u8, imm: u64) {
        if imm == 0 {
            asm!(self.ops ; xor Rd(d), Rd(d));
        } else if imm <= u32::MAX as u64 {
            asm!(self.ops ; mov Rd(d), imm as i32);
        } else if imm as i64 >= i32::MIN as i64 && imm as i64 <= i32::MAX as i64 {
            asm!(self.ops ; mov Rq(d), imm as i32);
        } else {
            asm!(self.ops ; mov Rq(d), QWORD imm as i64);
        }
    }

    // ---------------------------------------------------------------- ALU

    fn alu(&mut self, width: Width, op: AluOp, d: u8, src: Operand) {
        let w64 = width == Width::W64;
        match op {
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => {
                return self.divmod(w64, op, d, src);
            }
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => return self.shift(w64, op, d, src),
            AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                return self.movsx(w64, op, d, src);
            }
            AluOp::Neg => {
                if w64 {
                    asm!(self.ops ; neg Rq(d));
                } else {
                    asm!(self.ops ; neg Rd(d));
                }
                return;
            }
            _ => {}
        }
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                match (op, w64) {
                    (AluOp::Add, true) => asm!(self.ops ; add Rq(d), Rq(s)),
                    (AluOp::Add, false) => asm!(self.ops ; add Rd(d), Rd(s)),
                    (AluOp::Sub, true) => asm!(self.ops ; sub Rq(d), Rq(s)),
                    (AluOp::Sub, false) => asm!(self.ops ; sub Rd(d), Rd(s)),
                    (AluOp::Mul, true) => asm!(self.ops ; imul Rq(d), Rq(s)),
                    (AluOp::Mul, false) => asm!(self.ops ; imul Rd(d), Rd(s)),
                    (AluOp::Or, true) => asm!(self.ops ; or Rq(d), Rq(s)),
                    (AluOp::Or, false) => asm!(self.ops ; or Rd(d), Rd(s)),
                    (AluOp::And, true) => asm!(self.ops ; and Rq(d), Rq(s)),
                    (AluOp::And, false) => asm!(self.ops ; and Rd(d), Rd(s)),
                    (AluOp::Xor, true) => asm!(self.ops ; xor Rq(d), Rq(s)),
                    (AluOp::Xor, false) => asm!(self.ops ; xor Rd(d), Rd(s)),
                    (AluOp::Mov, true) => {
                        if d != s {
                            asm!(self.ops ; mov Rq(d), Rq(s));
                        }
                    }
                    // Also when d == s: writing a 32-bit register clears
                    // the upper half (RFC 9669 §4.1: mov32 zero-extends).
                    (AluOp::Mov, false) => asm!(self.ops ; mov Rd(d), Rd(s)),
                    _ => unreachable_op(op),
                }
            }
            // RFC 9669 §4.1: for ALU64 the immediate is sign-extended to 64
            // bits, which is what x86's imm32 forms of 64-bit operations do.
            Operand::Imm(i) => match (op, w64) {
                (AluOp::Add, true) => asm!(self.ops ; add Rq(d), i),
                (AluOp::Add, false) => asm!(self.ops ; add Rd(d), i),
                (AluOp::Sub, true) => asm!(self.ops ; sub Rq(d), i),
                (AluOp::Sub, false) => asm!(self.ops ; sub Rd(d), i),
                (AluOp::Mul, true) => asm!(self.ops ; imul Rq(d), Rq(d), i),
                (AluOp::Mul, false) => asm!(self.ops ; imul Rd(d), Rd(d), i),
                (AluOp::Or, true) => asm!(self.ops ; or Rq(d), i),
                (AluOp::Or, false) => asm!(self.ops ; or Rd(d), i),
                (AluOp::And, true) => asm!(self.ops ; and Rq(d), i),
                (AluOp::And, false) => asm!(self.ops ; and Rd(d), i),
                (AluOp::Xor, true) => asm!(self.ops ; xor Rq(d), i),
                (AluOp::Xor, false) => asm!(self.ops ; xor Rd(d), i),
                (AluOp::Mov, true) => self.mov_imm64(d, i as i64 as u64),
                (AluOp::Mov, false) => self.mov_imm64(d, i as u32 as u64),
                _ => unreachable_op(op),
            },
        }
    }

    fn movsx(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        let s = match src {
            Operand::Reg(s) => host(s),
            // The decoder only produces the register form; fold an
            // immediate anyway.
            Operand::Imm(i) => {
                let v = match op {
                    AluOp::MovSx8 => i as i8 as i64,
                    AluOp::MovSx16 => i as i16 as i64,
                    _ => i as i64,
                };
                let v = if w64 { v as u64 } else { v as u32 as u64 };
                return self.mov_imm64(d, v);
            }
        };
        match (op, w64) {
            (AluOp::MovSx8, true) => asm!(self.ops ; movsx Rq(d), Rb(s)),
            (AluOp::MovSx8, false) => asm!(self.ops ; movsx Rd(d), Rb(s)),
            (AluOp::MovSx16, true) => asm!(self.ops ; movsx Rq(d), Rw(s)),
            (AluOp::MovSx16, false) => asm!(self.ops ; movsx Rd(d), Rw(s)),
            (AluOp::MovSx32, true) => asm!(self.ops ; movsxd Rq(d), Rd(s)),
            // Sign-extending 32 bits into a 32-bit result is a mov32.
            _ => asm!(self.ops ; mov Rd(d), Rd(s)),
        }
    }

    /// Shifts. x86 masks a shift count to 6 bits (64-bit operand) or 5 bits
    /// (32-bit operand), exactly RFC 9669 §4.1's masking; a count in a
    /// register must be in `cl`, which holds eBPF `r4`.
    fn shift(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        match src {
            Operand::Imm(i) => {
                let n = (i as u32 & if w64 { 63 } else { 31 }) as i8;
                if n == 0 {
                    if !w64 {
                        asm!(self.ops ; mov Rd(d), Rd(d));
                    }
                    return;
                }
                match (op, w64) {
                    (AluOp::Lsh, true) => asm!(self.ops ; shl Rq(d), n),
                    (AluOp::Lsh, false) => asm!(self.ops ; shl Rd(d), n),
                    (AluOp::Rsh, true) => asm!(self.ops ; shr Rq(d), n),
                    (AluOp::Rsh, false) => asm!(self.ops ; shr Rd(d), n),
                    (AluOp::Arsh, true) => asm!(self.ops ; sar Rq(d), n),
                    (AluOp::Arsh, false) => asm!(self.ops ; sar Rd(d), n),
                    _ => unreachable_op(op),
                }
            }
            Operand::Reg(s) => {
                let s = host(s);
                // Shift `t` by cl, with rcx saved in r11 when it is not the
                // count already; a destination in rcx is shifted in r11.
                let t = if s == RCX {
                    d
                } else {
                    asm!(self.ops
                        ; mov r11, rcx
                        ; mov rcx, Rq(s)
                    );
                    if d == RCX { 11 } else { d }
                };
                match (op, w64) {
                    (AluOp::Lsh, true) => asm!(self.ops ; shl Rq(t), cl),
                    (AluOp::Lsh, false) => asm!(self.ops ; shl Rd(t), cl),
                    (AluOp::Rsh, true) => asm!(self.ops ; shr Rq(t), cl),
                    (AluOp::Rsh, false) => asm!(self.ops ; shr Rd(t), cl),
                    (AluOp::Arsh, true) => asm!(self.ops ; sar Rq(t), cl),
                    (AluOp::Arsh, false) => asm!(self.ops ; sar Rd(t), cl),
                    _ => unreachable_op(op),
                }
                if !w64 {
                    // A count of 0 leaves the destination untouched on
                    // some processors; the eBPF result is zero-extended.
                    asm!(self.ops ; mov Rd(t), Rd(t));
                }
                if s != RCX {
                    asm!(self.ops ; mov rcx, r11);
                }
            }
        }
    }

    /// Division and modulo with RFC 9669 §4.1's rules: division by zero
    /// gives 0, modulo by zero leaves the destination (zero-extended for
    /// 32 bits); signed `MIN / -1` is `MIN` and `MIN % -1` is 0 (x86's
    /// `idiv` would fault on both, so -1 is handled without it).
    fn divmod(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_div = matches!(op, AluOp::Div | AluOp::SDiv);
        let divisor = match src {
            Operand::Imm(0) => return self.div_by_zero(w64, is_div, d),
            Operand::Imm(-1) if signed => return self.div_by_minus_one(w64, is_div, d),
            Operand::Imm(i) => {
                // Sign-extended for 64 bits (both signed and unsigned, as
                // the kernel's `(u64)(s64)imm`), the low 32 bits for 32.
                if w64 {
                    asm!(self.ops ; mov r11, i);
                } else {
                    asm!(self.ops ; mov r11d, i);
                }
                self.div_core(w64, signed, is_div, d, 11);
                return;
            }
            Operand::Reg(s) => host(s),
        };
        // `div` uses rdx:rax; a divisor there is copied out first.
        let dv = if divisor == RAX || divisor == RDX {
            asm!(self.ops ; mov r11, Rq(divisor));
            11
        } else {
            divisor
        };
        let zero = self.ops.new_dynamic_label();
        let end = self.ops.new_dynamic_label();
        if w64 {
            asm!(self.ops ; test Rq(dv), Rq(dv) ; jz =>zero);
        } else {
            asm!(self.ops ; test Rd(dv), Rd(dv) ; jz =>zero);
        }
        if signed {
            let normal = self.ops.new_dynamic_label();
            if w64 {
                asm!(self.ops ; cmp Rq(dv), -1 ; jne =>normal);
            } else {
                asm!(self.ops ; cmp Rd(dv), -1 ; jne =>normal);
            }
            self.div_by_minus_one(w64, is_div, d);
            asm!(self.ops ; jmp =>end ; =>normal);
        }
        self.div_core(w64, signed, is_div, d, dv);
        asm!(self.ops ; jmp =>end ; =>zero);
        self.div_by_zero(w64, is_div, d);
        asm!(self.ops ; =>end);
    }

    fn div_by_zero(&mut self, w64: bool, is_div: bool, d: u8) {
        if is_div {
            asm!(self.ops ; xor Rd(d), Rd(d));
        } else if !w64 {
            asm!(self.ops ; mov Rd(d), Rd(d));
        }
    }

    /// `x / -1 = -x` (wrapping: `MIN` stays `MIN`) and `x % -1 = 0`.
    fn div_by_minus_one(&mut self, w64: bool, is_div: bool, d: u8) {
        match (is_div, w64) {
            (true, true) => asm!(self.ops ; neg Rq(d)),
            (true, false) => asm!(self.ops ; neg Rd(d)),
            (false, _) => asm!(self.ops ; xor Rd(d), Rd(d)),
        }
    }

    /// `d = d / dv` or `d % dv` with a divisor register that is neither
    /// rax nor rdx, known nonzero (and not -1 when signed). rax and rdx are
    /// saved around the division unless `d` is one of them.
    fn div_core(&mut self, w64: bool, signed: bool, is_div: bool, d: u8, dv: u8) {
        if d != RAX {
            asm!(self.ops ; mov r10, rax);
        }
        if d != RDX {
            asm!(self.ops ; mov [r12 + spill(SPILL_TMP)], rdx);
        }
        match (w64, signed) {
            (true, false) => asm!(self.ops ; mov rax, Rq(d) ; xor edx, edx ; div Rq(dv)),
            (true, true) => asm!(self.ops ; mov rax, Rq(d) ; cqo ; idiv Rq(dv)),
            (false, false) => asm!(self.ops ; mov eax, Rd(d) ; xor edx, edx ; div Rd(dv)),
            (false, true) => asm!(self.ops ; mov eax, Rd(d) ; cdq ; idiv Rd(dv)),
        }
        // A 32-bit div writes eax and edx, which zero-extends both.
        let result = if is_div { RAX } else { RDX };
        if d != result {
            asm!(self.ops ; mov Rq(d), Rq(result));
        }
        if d != RDX {
            asm!(self.ops ; mov rdx, [r12 + spill(SPILL_TMP)]);
        }
        if d != RAX {
            asm!(self.ops ; mov rax, r10);
        }
    }

    /// Byte swaps (RFC 9669 §4.2); the host is little-endian, so `le` only
    /// truncates.
    fn end(&mut self, kind: Endian, bits: u8, d: u8) {
        match (kind, bits) {
            (Endian::ToLe, 16) => asm!(self.ops ; movzx Rd(d), Rw(d)),
            (Endian::ToLe, 32) => asm!(self.ops ; mov Rd(d), Rd(d)),
            (Endian::ToLe, _) => {}
            (_, 16) => asm!(self.ops ; ror Rw(d), 8 ; movzx Rd(d), Rw(d)),
            (_, 32) => asm!(self.ops ; bswap Rd(d)),
            (_, _) => asm!(self.ops ; bswap Rq(d)),
        }
    }

    // ---------------------------------------------------------------- jumps

    fn jmp(&mut self, width: Width, cond: JmpCond, d: u8, src: Operand, t: DynamicLabel) {
        let w64 = width == Width::W64;
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                match (cond == JmpCond::Set, w64) {
                    (true, true) => asm!(self.ops ; test Rq(d), Rq(s)),
                    (true, false) => asm!(self.ops ; test Rd(d), Rd(s)),
                    (false, true) => asm!(self.ops ; cmp Rq(d), Rq(s)),
                    (false, false) => asm!(self.ops ; cmp Rd(d), Rd(s)),
                }
            }
            // For JMP the immediate is sign-extended to 64 bits, as in the
            // imm32 forms of 64-bit cmp/test. Comparing with 0 sets the
            // same flags as testing the register with itself.
            Operand::Imm(i) => {
                if cond == JmpCond::Set {
                    if w64 {
                        asm!(self.ops ; test Rq(d), i);
                    } else {
                        asm!(self.ops ; test Rd(d), i);
                    }
                } else if i == 0 {
                    if w64 {
                        asm!(self.ops ; test Rq(d), Rq(d));
                    } else {
                        asm!(self.ops ; test Rd(d), Rd(d));
                    }
                } else if w64 {
                    asm!(self.ops ; cmp Rq(d), i);
                } else {
                    asm!(self.ops ; cmp Rd(d), i);
                }
            }
        }
        match cond {
            JmpCond::Eq => asm!(self.ops ; je =>t),
            JmpCond::Ne => asm!(self.ops ; jne =>t),
            JmpCond::Set => asm!(self.ops ; jnz =>t),
            JmpCond::Gt => asm!(self.ops ; ja =>t),
            JmpCond::Ge => asm!(self.ops ; jae =>t),
            JmpCond::Lt => asm!(self.ops ; jb =>t),
            JmpCond::Le => asm!(self.ops ; jbe =>t),
            JmpCond::Sgt => asm!(self.ops ; jg =>t),
            JmpCond::Sge => asm!(self.ops ; jge =>t),
            JmpCond::Slt => asm!(self.ops ; jl =>t),
            JmpCond::Sle => asm!(self.ops ; jle =>t),
        }
    }

    // ---------------------------------------------------------------- calls

    fn call(&mut self, pc: usize, target: CallTarget) {
        match target {
            CallTarget::Helper(id) => {
                let helper = u32::try_from(id).ok().and_then(|id| self.helpers.get(id));
                match helper {
                    Some(h) => {
                        let f = h.func as usize as i64;
                        asm!(self.ops
                            ; mov r11, QWORD f
                            ; mov [r12 + OFF_HELPER_FN], r11
                        );
                        self.call_out(pc, ctx::call_helper as *const () as i64);
                    }
                    // Checked programs never get here (load refuses unknown
                    // helpers); trap like the interpreter would.
                    None => {
                        let stub = self.trap_stub(pc, Trap::UnknownHelper, 0);
                        asm!(self.ops ; jmp =>stub);
                    }
                }
            }
            CallTarget::Reg(r) => {
                let r = host(r);
                asm!(self.ops ; mov [r12 + OFF_CALLX_ID], Rq(r));
                self.call_out(pc, ctx::call_indirect as *const () as i64);
            }
            CallTarget::Local(_) => self.call_local(pc),
            // Kernel functions exist only in the kernel.
            CallTarget::Kfunc(_) => {
                let stub = self.trap_stub(pc, Trap::Unsupported, 0);
                asm!(self.ops ; jmp =>stub);
            }
        }
    }

    /// Calls a trampoline with `r1`..`r5` in place and the context as the
    /// sixth argument; `r0` receives its value; a non-zero status (in rdx)
    /// ends the run.
    fn call_out(&mut self, pc: usize, trampoline: i64) {
        if self.checked {
            asm!(self.ops ; mov [r12 + OFF_BUDGET], r9);
        }
        asm!(self.ops
            ; mov r9, r12
            ; mov rax, QWORD trampoline
            ; call rax
        );
        if self.checked {
            asm!(self.ops ; mov r9, [r12 + OFF_BUDGET]);
        }
        let label = self.ops.new_dynamic_label();
        self.cold.push(Cold::CallStatus { label, pc });
        asm!(self.ops
            ; test rdx, rdx
            ; jnz =>label
        );
    }

    /// A bpf-to-bpf call: a fresh 512-byte frame below the current one,
    /// `r6`..`r10` preserved for the caller (RFC 9669 §4.3.1).
    fn call_local(&mut self, pc: usize) {
        let target = self.target(pc, &self.insns[pc]);
        if self.checked {
            let stub = self.trap_stub(pc, Trap::CallDepth, 0);
            asm!(self.ops
                ; cmp rbp, [r12 + OFF_MIN_CALL_FP]
                ; jb =>stub
            );
        }
        asm!(self.ops
            ; push rbx
            ; push r13
            ; push r14
            ; push r15
            ; push rbp
            ; sub rbp, STACK_PER_FRAME as i32
            ; call =>target
            ; pop rbp
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop rbx
        );
    }

    // ---------------------------------------------------------------- memory

    /// The operand for an access of `size` at `base + off`, checked first
    /// in checked mode. `keep_rax` asks for an operand that does not use
    /// rax (atomics loop on it).
    fn address(
        &mut self,
        pc: usize,
        base: Reg,
        off: i16,
        size: Size,
        write: bool,
        keep_rax: bool,
    ) -> Mem {
        let b = host(base);
        let off = off as i32;
        let bytes = size.bytes() as i32;
        // r10 always points to the top of the current frame, inside the
        // stack, with a whole frame below it: such an access needs no check.
        if base == Reg::R10 && off >= -(STACK_PER_FRAME as i32) && off + bytes <= 0 {
            return Mem {
                base: RBP,
                disp: off,
            };
        }
        if !self.checked {
            if keep_rax && b == RAX {
                asm!(self.ops ; lea r10, [rax + off]);
                return Mem { base: R10, disp: 0 };
            }
            return Mem { base: b, disp: off };
        }
        let cold = self.ops.new_dynamic_label();
        let back = self.ops.new_dynamic_label();
        let limit = (self.stack_len as i32) - bytes;
        // In the stack iff (addr - stack_base) <= stack_len - size,
        // unsigned; an address below the stack wraps to a huge value.
        asm!(self.ops
            ; lea r10, [Rq(b) + off]
            ; mov r11, r10
            ; sub r11, [r12 + OFF_STACK_BASE]
            ; cmp r11, limit
            ; ja =>cold
            ; =>back
        );
        self.cold.push(Cold::MemCheck {
            label: cold,
            back,
            pc,
            size,
            write,
        });
        Mem { base: R10, disp: 0 }
    }

    fn load(&mut self, pc: usize, size: Size, signed: bool, d: u8, src: Reg, off: i16) {
        let m = self.address(pc, src, off, size, false, false);
        let (b, o) = (m.base, m.disp);
        match (size, signed) {
            (Size::B, false) => asm!(self.ops ; movzx Rd(d), BYTE [Rq(b) + o]),
            (Size::H, false) => asm!(self.ops ; movzx Rd(d), WORD [Rq(b) + o]),
            (Size::W, false) => asm!(self.ops ; mov Rd(d), DWORD [Rq(b) + o]),
            (Size::DW, _) => asm!(self.ops ; mov Rq(d), QWORD [Rq(b) + o]),
            (Size::B, true) => asm!(self.ops ; movsx Rq(d), BYTE [Rq(b) + o]),
            (Size::H, true) => asm!(self.ops ; movsx Rq(d), WORD [Rq(b) + o]),
            (Size::W, true) => asm!(self.ops ; movsxd Rq(d), DWORD [Rq(b) + o]),
        }
    }

    fn store(&mut self, pc: usize, size: Size, dst: Reg, off: i16, src: Operand) {
        let m = self.address(pc, dst, off, size, true, false);
        let (b, o) = (m.base, m.disp);
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                match size {
                    Size::B => asm!(self.ops ; mov BYTE [Rq(b) + o], Rb(s)),
                    Size::H => asm!(self.ops ; mov WORD [Rq(b) + o], Rw(s)),
                    Size::W => asm!(self.ops ; mov DWORD [Rq(b) + o], Rd(s)),
                    Size::DW => asm!(self.ops ; mov QWORD [Rq(b) + o], Rq(s)),
                }
            }
            // `stdw` sign-extends its immediate, like x86's imm32 form.
            Operand::Imm(i) => match size {
                Size::B => asm!(self.ops ; mov BYTE [Rq(b) + o], i as i8),
                Size::H => asm!(self.ops ; mov WORD [Rq(b) + o], i as i16),
                Size::W => asm!(self.ops ; mov DWORD [Rq(b) + o], i),
                Size::DW => asm!(self.ops ; mov QWORD [Rq(b) + o], i),
            },
        }
    }

    /// Atomic read-modify-write (RFC 9669 §5.3), lock-prefixed.
    #[allow(clippy::too_many_arguments)]
    fn atomic(
        &mut self,
        pc: usize,
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: Reg,
        s: u8,
        off: i16,
    ) {
        let m = self.address(pc, dst, off, size, true, true);
        let (b, o) = (m.base, m.disp);
        let w64 = size == Size::DW;
        match (op, fetch, w64) {
            (AtomicOp::Add, false, true) => asm!(self.ops ; lock add QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Add, false, false) => asm!(self.ops ; lock add DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Or, false, true) => asm!(self.ops ; lock or QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Or, false, false) => asm!(self.ops ; lock or DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::And, false, true) => asm!(self.ops ; lock and QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::And, false, false) => asm!(self.ops ; lock and DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Xor, false, true) => asm!(self.ops ; lock xor QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Xor, false, false) => asm!(self.ops ; lock xor DWORD [Rq(b) + o], Rd(s)),
            // xadd leaves the old value in the source register; a 32-bit
            // register write zero-extends it.
            (AtomicOp::Add, true, true) => asm!(self.ops ; lock xadd QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Add, true, false) => asm!(self.ops ; lock xadd DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Or | AtomicOp::And | AtomicOp::Xor, true, _) => {
                self.fetch_op_loop(op, w64, b, o, s)
            }
            // xchg with memory is always locked.
            (AtomicOp::Xchg, _, true) => asm!(self.ops ; xchg QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Xchg, _, false) => asm!(self.ops ; xchg DWORD [Rq(b) + o], Rd(s)),
            // cmpxchg compares with rax (eBPF r0) and leaves the old value
            // there either way, except that a successful 32-bit compare
            // does not write eax: zero-extend explicitly.
            (AtomicOp::CmpXchg, _, true) => asm!(self.ops ; lock cmpxchg QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::CmpXchg, _, false) => {
                asm!(self.ops ; lock cmpxchg DWORD [Rq(b) + o], Rd(s) ; mov eax, eax)
            }
        }
    }

    /// Fetching or/and/xor have no x86 instruction: a cmpxchg loop, with
    /// rax (eBPF r0) saved around it unless it is the source.
    fn fetch_op_loop(&mut self, op: AtomicOp, w64: bool, b: u8, o: i32, s: u8) {
        let retry = self.ops.new_dynamic_label();
        asm!(self.ops ; mov [r12 + spill(SPILL_TMP)], rax);
        if w64 {
            asm!(self.ops ; mov rax, QWORD [Rq(b) + o] ; =>retry ; mov r11, rax);
        } else {
            asm!(self.ops ; mov eax, DWORD [Rq(b) + o] ; =>retry ; mov r11d, eax);
        }
        // The operand is the source's value before the loop (r0's lives in
        // the spill slot).
        match (op, w64, s == RAX) {
            (AtomicOp::Or, true, false) => asm!(self.ops ; or r11, Rq(s)),
            (AtomicOp::Or, false, false) => asm!(self.ops ; or r11d, Rd(s)),
            (AtomicOp::And, true, false) => asm!(self.ops ; and r11, Rq(s)),
            (AtomicOp::And, false, false) => asm!(self.ops ; and r11d, Rd(s)),
            (AtomicOp::Xor, true, false) => asm!(self.ops ; xor r11, Rq(s)),
            (AtomicOp::Xor, false, false) => asm!(self.ops ; xor r11d, Rd(s)),
            (AtomicOp::Or, true, true) => asm!(self.ops ; or r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Or, false, true) => asm!(self.ops ; or r11d, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::And, true, true) => asm!(self.ops ; and r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::And, false, true) => asm!(self.ops ; and r11d, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Xor, true, true) => asm!(self.ops ; xor r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Xor, false, true) => asm!(self.ops ; xor r11d, [r12 + spill(SPILL_TMP)]),
            _ => unreachable_atomic(op),
        }
        if w64 {
            asm!(self.ops ; lock cmpxchg QWORD [Rq(b) + o], r11 ; jne =>retry);
        } else {
            asm!(self.ops ; lock cmpxchg DWORD [Rq(b) + o], r11d ; jne =>retry);
        }
        // rax holds the old value (zero-extended for 32 bits: it was loaded
        // by a 32-bit mov or a failed 32-bit cmpxchg).
        if s != RAX {
            asm!(self.ops
                ; mov Rq(s), rax
                ; mov rax, [r12 + spill(SPILL_TMP)]
            );
        }
    }

    // ---------------------------------------------------------------- cold

    fn emit_cold(&mut self) {
        let cold = std::mem::take(&mut self.cold);
        let trap_common = self.trap_common;
        let helper_exit = self.helper_exit;
        for stub in cold {
            match stub {
                Cold::Trap {
                    label,
                    pc,
                    trap,
                    refund,
                } => {
                    asm!(self.ops ; =>label);
                    if refund != 0 {
                        asm!(self.ops ; add r9, refund as i32);
                    }
                    asm!(self.ops
                        ; mov r10d, pc as i32
                        ; mov r11d, trap.code() as i32
                        ; jmp =>trap_common
                    );
                }
                Cold::MemCheck {
                    label,
                    back,
                    pc,
                    size,
                    write,
                } => {
                    let sub = self.check_sub(size, write);
                    asm!(self.ops
                        ; =>label
                        ; mov r11d, pc as i32
                        ; call =>sub
                        ; jmp =>back
                    );
                }
                Cold::CallStatus { label, pc } => {
                    asm!(self.ops
                        ; =>label
                        ; cmp rdx, STATUS_EXIT as i32
                        ; je =>helper_exit
                        ; mov r11, rax
                        ; mov r10d, pc as i32
                        ; jmp =>trap_common
                    );
                }
            }
        }
    }

    fn check_sub(&mut self, size: Size, write: bool) -> DynamicLabel {
        let slot = &mut self.check_subs[size_index(size)][write as usize];
        *slot.get_or_insert_with(|| self.ops.new_dynamic_label())
    }

    /// The shared slow paths of checked accesses, one per (size, write)
    /// used. Entered by `call` with the address in r10 and the slot in
    /// r11; return if the access is allowed, else jump to the trap exit.
    /// First the cached region (the last one a slow check allowed), then
    /// `ctx::check_access`, which asks the run's regions.
    fn emit_check_subs(&mut self) {
        let trap_common = self.trap_common;
        for (si, size) in [Size::B, Size::H, Size::W, Size::DW]
            .into_iter()
            .enumerate()
        {
            for write in [false, true] {
                let Some(label) = self.check_subs[si][write as usize] else {
                    continue;
                };
                let cache = if write {
                    OFF_WRITE_CACHE
                } else {
                    OFF_READ_CACHE
                };
                let bytes = size.bytes() as i32;
                let miss = self.ops.new_dynamic_label();
                let fail = self.ops.new_dynamic_label();
                let arg = (size.bytes() as i32) | ((write as i32) << 8);
                let check = ctx::check_access as *const () as i64;
                // Hit iff addr - start does not borrow, adding the size
                // does not carry, and the end is within the length.
                asm!(self.ops
                    ; =>label
                    ; mov [r12 + spill(SPILL_PC)], r11
                    ; mov r11, r10
                    ; sub r11, [r12 + cache]
                    ; jb =>miss
                    ; add r11, bytes
                    ; jc =>miss
                    ; cmp r11, [r12 + cache + 8]
                    ; ja =>miss
                    ; ret
                    ; =>miss
                    ; mov [r12 + spill(1)], rax
                    ; mov [r12 + spill(2)], rcx
                    ; mov [r12 + spill(3)], rdx
                    ; mov [r12 + spill(4)], rsi
                    ; mov [r12 + spill(5)], rdi
                    ; mov [r12 + spill(6)], r8
                    ; mov [r12 + spill(7)], r9
                    ; mov [r12 + spill(8)], r10
                    ; mov rdi, r12
                    ; mov rsi, r10
                    ; mov edx, arg
                    // Entered by `call` from a body at rsp = 0 mod 16.
                    ; sub rsp, 8
                    ; mov rax, QWORD check
                    ; call rax
                    ; add rsp, 8
                    ; test rax, rax
                    ; jnz =>fail
                    ; mov rax, [r12 + spill(1)]
                    ; mov rcx, [r12 + spill(2)]
                    ; mov rdx, [r12 + spill(3)]
                    ; mov rsi, [r12 + spill(4)]
                    ; mov rdi, [r12 + spill(5)]
                    ; mov r8, [r12 + spill(6)]
                    ; mov r9, [r12 + spill(7)]
                    ; mov r10, [r12 + spill(8)]
                    ; ret
                    ; =>fail
                    ; mov r11, rax
                    ; mov r10, [r12 + spill(SPILL_PC)]
                    ; mov r9, [r12 + spill(7)]
                    ; jmp =>trap_common
                );
            }
        }
    }
}

fn size_index(size: Size) -> usize {
    match size {
        Size::B => 0,
        Size::H => 1,
        Size::W => 2,
        Size::DW => 3,
    }
}

#[cold]
fn unreachable_op(op: AluOp) -> ! {
    unreachable!("ALU operation {op:?} has its own emitter")
}

#[cold]
fn unreachable_atomic(op: AtomicOp) -> ! {
    unreachable!("atomic {op:?} has its own emitter")
}
