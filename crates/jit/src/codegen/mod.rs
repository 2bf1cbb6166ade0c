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
//! checked mode (scratch in verified mode), `r10` and `r11` are scratch.
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
//! the frame it is in. A local call pushes those of `r6`..`r9` that the
//! callee's code can write (and `r10` when that makes an even number of
//! pushes), moves `r10` down one 512-byte frame and `call`s the target; a
//! trap or a helper's `Exit` unwinds every frame at once by restoring the
//! saved `rsp`.

// dynasm's macro expands dynamic register operands to `.into()` calls.
#![allow(clippy::useless_conversion)]

use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm, x64::X64Relocation};
use oxbpf_abi::Trap;
use oxbpf_abi::limits::STACK_PER_FRAME;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};
use oxbpf_runtime::{EngineError, HelperTable, Program, SafetyMode};

use crate::ctx::OFF_CPU;
use crate::ctx::{
    self, OFF_ARGS, OFF_BUDGET, OFF_CALLX_ID, OFF_CUR_FP, OFF_FRAME_TOP, OFF_HELPER_FN,
    OFF_MIN_CALL_FP, OFF_READ_CACHE, OFF_SAVED_RSP, OFF_STACK_BASE, OFF_TRAP_CODE, OFF_TRAP_PC,
    OFF_WRITE_CACHE, STATUS_EXIT, spill,
};

type Ops = VecAssembler<X64Relocation>;

macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

mod alu;
mod call;
mod mem;

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

/// Code generation choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitOptions {
    /// Use BMI2's `shlx`/`shrx`/`sarx` for shifts by a register (no
    /// shuffling through `cl`). [`JitOptions::host`] enables it when the
    /// processor has BMI2.
    pub bmi2: bool,
}

impl JitOptions {
    /// The best options for the processor this runs on.
    pub fn host() -> JitOptions {
        JitOptions {
            bmi2: std::arch::is_x86_feature_detected!("bmi2"),
        }
    }

    /// Only baseline x86-64 instructions.
    pub fn baseline() -> JitOptions {
        JitOptions { bmi2: false }
    }
}

impl Default for JitOptions {
    fn default() -> JitOptions {
        JitOptions::host()
    }
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
    /// Per slot: the earlier slot whose code also computes this one
    /// ([`Compiler::fuse_lea`]); such a slot has no code of its own.
    pub fused_into: Vec<Option<usize>>,
    /// Bytes of eBPF stack the code expects (`frames * 512`).
    pub stack_len: usize,
    /// Per-CPU value base tables that inlined lookups in per-CPU arrays
    /// read (their addresses are in the code): the executable keeps them.
    pub cpu_tables: Vec<Box<[u64]>>,
}

/// The compiler state for one program.
struct Compiler<'p> {
    ops: Ops,
    insns: &'p [Insn],
    program: &'p Program,
    helpers: &'p HelperTable,
    checked: bool,
    options: JitOptions,
    /// Whether the program writes r10. RFC 9669 §2.4 makes r10 read-only
    /// and the kernel refuses such programs, but checked mode runs them as
    /// the interpreter does: then r10 proves nothing about an address, and
    /// a local call derives the callee's frame from the call depth (kept in
    /// the context) instead of from r10.
    fp_written: bool,
    stack_len: usize,
    slot_labels: Vec<DynamicLabel>,
    slot_offsets: Vec<usize>,
    /// Per slot: its jump uses the `rel8` form.
    short: Vec<bool>,
    /// Per slot: the target of a backward jump.
    loop_head: Vec<bool>,
    cold: Vec<Cold>,
    done: DynamicLabel,
    trap_common: DynamicLabel,
    helper_exit: DynamicLabel,
    /// Shared slow-path check subroutines, by `[size index][write]`,
    /// created on first use.
    check_subs: [[Option<DynamicLabel>; 2]; 4],
    /// Slots below this were compiled together with an earlier slot (see
    /// [`Compiler::fuse_lea`]) and emit nothing of their own.
    fused_until: usize,
    /// See [`Compiled::fused_into`].
    fused_into: Vec<Option<usize>>,
    /// Per function entry slot: the r6..r9 its code may write, once
    /// computed (`Compiler::callee_writes`).
    callee_writes: std::collections::HashMap<usize, u8>,
    /// See [`Compiled::cpu_tables`].
    cpu_tables: Vec<Box<[u64]>>,
}

fn unsupported(index: usize, what: &'static str) -> EngineError {
    EngineError::Unsupported {
        engine: "jit",
        index,
        what,
    }
}

/// Compiles `program` for a stack of `frames` 512-byte frames.
///
/// Jumps between slots use the 2-byte `rel8` form when an upper bound of
/// the code between them says it reaches ([`short_jumps`]); should a bound
/// ever be wrong, the assembler refuses the displacement and the program is
/// compiled again with `rel32` jumps only.
pub(crate) fn compile(
    program: &Program,
    frames: usize,
    options: JitOptions,
) -> Result<Compiled, EngineError> {
    let heads = loop_heads(program.insns());
    let short = short_jumps(program, &heads);
    match compile_with(program, frames, options, short, heads.clone()) {
        Err(EngineError::Resource { reason, .. }) => {
            // Tests run with debug assertions: a bound that is too small
            // fails them instead of hiding behind the fallback.
            debug_assert!(false, "short jump out of reach: {reason}");
            let long = vec![false; program.insns().len()];
            compile_with(program, frames, options, long, heads)
        }
        other => other,
    }
}

fn compile_with(
    program: &Program,
    frames: usize,
    options: JitOptions,
    short: Vec<bool>,
    loop_head: Vec<bool>,
) -> Result<Compiled, EngineError> {
    let insns = program.insns();
    // About 7 bytes of code per instruction on average (slots plus stubs);
    // a buffer far larger than that costs fresh pages on every compile.
    let mut ops = Ops::new_with_capacity(
        0,
        insns.len() * 8 + 512,
        0,
        0,
        insns.len() * 2 + 8,
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
        options,
        fp_written: insns.iter().any(writes_fp),
        stack_len: frames * STACK_PER_FRAME,
        slot_labels,
        slot_offsets: vec![0; insns.len()],
        short,
        loop_head,
        cold: Vec::new(),
        done,
        trap_common,
        helper_exit,
        check_subs: [[None; 2]; 4],
        fused_until: 0,
        fused_into: vec![None; insns.len()],
        callee_writes: std::collections::HashMap::new(),
        cpu_tables: Vec::new(),
    };
    c.prologue();
    for pc in 0..insns.len() {
        c.slot(pc)?;
    }
    let slots_end = c.ops.offset().0;
    // Programs are checked not to fall off the end; should one do so
    // anyway, stop it rather than run into the out-of-line code.
    // The interpreter reports the slot past the end.
    let end = c.trap_stub(insns.len(), Trap::Unsupported, 0);
    asm!(c.ops ; jmp =>end);
    c.emit_cold();
    c.emit_check_subs();
    let Compiler {
        ops,
        slot_offsets,
        stack_len,
        fused_into,
        cpu_tables,
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
        fused_into,
        cpu_tables,
    })
}

/// The targets of backward jumps.
fn loop_heads(insns: &[Insn]) -> Vec<bool> {
    let mut heads = vec![false; insns.len()];
    for (pc, insn) in insns.iter().enumerate() {
        if let (Insn::Ja { .. } | Insn::Jmp { .. }, Some(t)) = (insn, insn.branch_target(pc))
            && let Ok(t) = usize::try_from(t)
            && t <= pc
        {
            heads[t] = true;
        }
    }
    heads
}

/// An upper bound of the bytes one slot's code takes (a wrong bound only
/// costs a recompilation, and debug builds assert against it; the lockstep
/// tests compile tens of thousands of programs with it).
fn max_bytes(insn: &Insn, leader: bool, head: bool, checked: bool) -> usize {
    let body = match insn {
        Insn::Alu { op, src, .. } => match (op, src) {
            (AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod, _) => 112,
            // Through cl: two moves in, the shift, zero-extension, one out.
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Operand::Reg(_)) => 20,
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Operand::Imm(_)) => 9,
            // REX, opcode (2 for imul), ModRM.
            (_, Operand::Reg(_)) => 6,
            // Up to `mov r64, imm64` (10 bytes).
            (_, Operand::Imm(_)) => 12,
        },
        Insn::End { .. } => 12,
        Insn::Ja { .. } => 6,
        // cmp/test with imm32 (7) + jcc rel32 (6).
        Insn::Jmp { .. } => 16,
        Insn::Exit | Insn::LddwHi => 2,
        Insn::Lddw { .. } => 12,
        Insn::Load { .. } | Insn::Store { .. } => {
            // REX, opcode, ModRM, SIB, disp32, imm32; plus the inline
            // range check in checked mode.
            if checked { 64 } else { 16 }
        }
        Insn::Atomic { .. } => {
            if checked {
                128
            } else {
                80
            }
        }
        Insn::Call(_) => 96,
        Insn::LdPacket { .. } => 8,
    };
    // A loop head starts with up to 63 bytes of padding; in checked mode a
    // leader starts with the budget charge (sub imm32 + jb rel32).
    body + if head { 63 } else { 0 } + if leader && checked { 13 } else { 0 }
}

/// For each slot, whether its jump (if any) can use the `rel8` form: the
/// code between the end of the jump and its target is bounded by 120 bytes.
fn short_jumps(program: &Program, heads: &[bool]) -> Vec<bool> {
    let insns = program.insns();
    let blocks = program.blocks();
    let checked = program.mode() == SafetyMode::Checked;
    // prefix[i] = bound of the code of slots 0..i.
    let mut prefix = Vec::with_capacity(insns.len() + 1);
    prefix.push(0usize);
    for (pc, insn) in insns.iter().enumerate() {
        let last = prefix[pc];
        prefix.push(last + max_bytes(insn, blocks.is_leader(pc), heads[pc], checked));
    }
    insns
        .iter()
        .enumerate()
        .map(|(pc, insn)| {
            if !matches!(insn, Insn::Ja { .. } | Insn::Jmp { .. }) {
                return false;
            }
            let Some(t) = insn.branch_target(pc).and_then(|t| usize::try_from(t).ok()) else {
                return false;
            };
            let span = if t > pc {
                prefix[t] - prefix[pc + 1]
            } else {
                prefix[pc + 1] - prefix[t]
            };
            span <= 120
        })
        .collect()
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
        // System V ABI wants at helper calls (a local call pushes an odd
        // number of registers plus the return address, keeping it).
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
        if pc < self.fused_until {
            // Not a jump target (`fuse_lea` checks): the label is bound
            // only so that every slot has one.
            let label = self.slot_labels[pc];
            asm!(self.ops ; =>label);
            return Ok(());
        }
        if self.loop_head[pc] {
            // Loop heads start on a 64-byte boundary, so a small loop sits
            // in one cache line: on this Xeon (family 6 model 207) a
            // checksum loop of 33 bytes whose back-edge jump straddled a
            // line ran at 1724 ns/run, aligned at 1177 ns/run (best of 60
            // batches). The padding runs once per loop entry.
            self.pad_to_64();
        }
        let label = self.slot_labels[pc];
        asm!(self.ops ; =>label);
        if self.checked {
            let cost = self.program.blocks().cost(pc);
            if cost != 0 {
                self.charge(pc, cost)?;
            }
        }
        let fused = self.fuse_lea(pc);
        if fused > 1 {
            self.fused_until = pc + fused;
            for f in &mut self.fused_into[pc + 1..pc + fused] {
                *f = Some(pc);
            }
            return Ok(());
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
                if self.short[pc] {
                    asm!(self.ops ; jmp BYTE =>t);
                } else {
                    asm!(self.ops ; jmp =>t);
                }
            }
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let t = self.target(pc, &insn);
                let short = self.short[pc];
                self.jmp(width, cond, host(dst), src, t, short);
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

    /// Pads with multi-byte NOPs (Intel SDM vol. 2B, "NOP": the
    /// recommended sequences) to a 64-byte boundary: at most seven NOP
    /// instructions.
    fn pad_to_64(&mut self) {
        const NOPS: [&[u8]; 10] = [
            &[],
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut pad = (64 - self.ops.offset().0 % 64) % 64;
        while pad > 0 {
            let n = pad.min(9);
            self.ops.extend(NOPS[n].iter().copied());
            pad -= n;
        }
    }

    /// Charges a block's cost at its leader (see `oxbpf_runtime::blocks`):
    /// trap if the budget holds less, else subtract.
    fn charge(&mut self, pc: usize, cost: u32) -> Result<(), EngineError> {
        let imm = i32::try_from(cost).map_err(|_| unsupported(pc, "a block this long"))?;
        let stub = self.trap_stub(pc, Trap::BudgetExhausted, cost);
        // The borrow of an unsigned subtraction is exactly budget < cost.
        match i8::try_from(imm) {
            Ok(b) => asm!(self.ops ; sub r9, BYTE b ; jb =>stub),
            Err(_) => asm!(self.ops ; sub r9, imm ; jb =>stub),
        }
        Ok(())
    }

    /// The label of the slot a jump at `pc` leads to.
    fn target(&self, pc: usize, insn: &Insn) -> DynamicLabel {
        // Decoding checked that targets are in range.
        let t = insn.branch_target(pc).unwrap_or(pc as i64 + 1) as usize;
        self.slot_labels[t]
    }

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
