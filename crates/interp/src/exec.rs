//! The interpreter loop.
//!
//! One `match` on the decoded [`Insn`] per slot. The loop is generic over a
//! [`Tracer`] so that the traced run and the normal run share one body; the
//! normal run's tracer is a no-op constant the compiler removes.

use oxbpf_abi::Trap;
use oxbpf_abi::limits::{CHECKED_MAX_FRAMES, KERNEL_MAX_FRAMES, STACK_PER_FRAME};
use oxbpf_isa::{AtomicOp, CallTarget, Insn, LddwSrc, Operand, Reg, Size, Width};
use oxbpf_runtime::{
    HelperExit, HelperTable, Program, Region, RegionKind, RunState, SafetyMode, Trapped,
};

use crate::memory;
use crate::semantics::{alu32, alu64, cond32, cond64, end};

/// Receives one event per completed instruction of a traced run.
pub(crate) trait Tracer {
    /// `false` for the untraced run: every tracing statement is then dead
    /// code.
    const ENABLED: bool;
    fn event(
        &mut self,
        pc: usize,
        insn: &Insn,
        depth: usize,
        before: &[u64; 11],
        after: &[u64; 11],
    );
}

/// The tracer of normal runs.
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn event(&mut self, _: usize, _: &Insn, _: usize, _: &[u64; 11], _: &[u64; 11]) {}
}

/// What a bpf-to-bpf call saves: where to return and the callee-saved
/// registers `r6`-`r9` plus the caller's frame pointer `r10`.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) ret: usize,
    pub(crate) saved: [u64; 5],
}

/// Removes the stack region from the state when the run ends, however it
/// ends (return, trap or a panicking helper), so that no region outlives
/// the stack memory it describes.
struct RegionGuard<'s, 'a> {
    state: &'s mut RunState<'a>,
    len: usize,
}

impl Drop for RegionGuard<'_, '_> {
    fn drop(&mut self) {
        self.state.regions.truncate(self.len);
    }
}

/// Runs `program` once. Sets up the stack (as a region of `state` for the
/// duration of the run), then interprets.
pub(crate) fn run<T: Tracer>(
    program: &Program,
    state: &mut RunState<'_>,
    args: [u64; 5],
    tracer: &mut T,
) -> Result<u64, Trapped> {
    let checked = program.mode() == SafetyMode::Checked;
    with_stack(program.mode(), state, |state, top, frames| {
        interpret(program, state, args, top, frames, checked, tracer)
    })
}

/// Gives `body` a fresh zeroed stack for one run: `body(state, top,
/// frames)`, where `top` is the initial `r10`. Sets `state.mode` and keeps
/// the stack registered as a region while `body` runs.
///
/// Stack layout, shared with the JIT so that checked-mode traps agree: one
/// region of `frames * 512` bytes; frame 0 (the main program) is the top
/// 512 bytes and `r10` points just past it; call depth `d` has
/// `r10 = top - d * 512`. The whole region is accessible from every frame.
#[inline(always)]
pub(crate) fn with_stack<R>(
    mode: SafetyMode,
    state: &mut RunState<'_>,
    body: impl FnOnce(&mut RunState<'_>, u64, usize) -> R,
) -> R {
    // Only the frames the mode allows are zeroed (and exist).
    match mode {
        SafetyMode::Checked => {
            stack_of::<{ CHECKED_MAX_FRAMES * STACK_PER_FRAME / 8 }, R>(mode, state, body)
        }
        SafetyMode::Verified => {
            stack_of::<{ KERNEL_MAX_FRAMES * STACK_PER_FRAME / 8 }, R>(mode, state, body)
        }
    }
}

#[inline(always)]
fn stack_of<const WORDS: usize, R>(
    mode: SafetyMode,
    state: &mut RunState<'_>,
    body: impl FnOnce(&mut RunState<'_>, u64, usize) -> R,
) -> R {
    // In u64 words, so that aligned eBPF accesses are aligned host
    // accesses (real atomics need it).
    let mut stack = [0u64; WORDS];
    // The stack is only ever reached through addresses derived from this
    // pointer (via the program's r10), never through `stack` itself.
    let base = stack.as_mut_ptr() as u64;
    let len = (WORDS * 8) as u64;
    state.mode = mode;
    let saved_len = state.regions.len();
    state.regions.push(Region {
        start: base,
        len,
        writable: true,
        kind: RegionKind::Stack,
    });
    let guard = RegionGuard {
        state,
        len: saved_len,
    };
    body(guard.state, base + len, WORDS * 8 / STACK_PER_FRAME)
}

/// How an instruction ends.
pub(crate) enum Next {
    /// Continue at this slot.
    At(usize),
    /// The program returns this `r0`.
    Return(u64),
}

#[cold]
#[inline(never)]
pub(crate) fn trapped(trap: Trap, pc: usize) -> Trapped {
    Trapped { trap, pc }
}

/// Checks an access in checked mode; a no-op in verified mode.
#[inline(always)]
fn check(
    state: &RunState<'_>,
    checked: bool,
    addr: u64,
    size: Size,
    write: bool,
    pc: usize,
) -> Result<(), Trapped> {
    if checked {
        state
            .regions
            .check(addr, size.bytes() as u64, write)
            .map_err(|t| trapped(t, pc))?;
    }
    Ok(())
}

/// How a helper call ended without trapping.
pub(crate) enum Called {
    /// The helper returned this `r0`; execution continues.
    Returned(u64),
    /// The helper ended the whole program with this `r0` (`unwind`).
    Exit(u64),
}

/// Calls helper `id` with `args` (`r1`..`r5`). An id the table lacks traps
/// with `unknown`.
#[inline(always)]
pub(crate) fn call_helper(
    helpers: &HelperTable,
    id: u64,
    state: &mut RunState<'_>,
    args: [u64; 5],
    pc: usize,
    unknown: Trap,
) -> Result<Called, Trapped> {
    let helper = u32::try_from(id).ok().and_then(|id| helpers.get(id));
    let Some(helper) = helper else {
        return Err(trapped(unknown, pc));
    };
    match (helper.func)(state, args) {
        Ok(v) => Ok(Called::Returned(v)),
        Err(HelperExit::Exit(v)) => Ok(Called::Exit(v)),
        Err(HelperExit::Trap(t)) => Err(trapped(t, pc)),
    }
}

/// The loop's view of a helper call: `r0` receives the result either way.
#[inline(always)]
fn helper_next(called: Called, r: &mut [u64; 11], pc: usize) -> Next {
    match called {
        Called::Returned(v) => {
            r[0] = v;
            Next::At(pc + 1)
        }
        Called::Exit(v) => {
            r[0] = v;
            Next::Return(v)
        }
    }
}

#[inline(always)]
fn operand64(r: &[u64; 11], src: Operand) -> u64 {
    match src {
        Operand::Reg(s) => r[s.index()],
        // RFC 9669 §4.1: the 32-bit immediate is sign-extended for 64-bit
        // operations.
        Operand::Imm(i) => i as i64 as u64,
    }
}

#[inline(always)]
fn operand32(r: &[u64; 11], src: Operand) -> u32 {
    match src {
        Operand::Reg(s) => r[s.index()] as u32,
        Operand::Imm(i) => i as u32,
    }
}

/// The target slot of a jump or local call at `pc`. A target outside
/// `0..=n` (only possible in a program built without the load checks)
/// traps at the jump itself, whether or not it would be taken; slot `n`
/// traps when reached, like falling off the end.
#[inline(always)]
fn target(pc: usize, off: i64, n: usize) -> Result<usize, Trapped> {
    let t = pc as i64 + 1 + off;
    if (0..=n as i64).contains(&t) {
        Ok(t as usize)
    } else {
        Err(trapped(Trap::Unsupported, pc))
    }
}

#[allow(clippy::too_many_arguments)]
fn interpret<T: Tracer>(
    program: &Program,
    state: &mut RunState<'_>,
    args: [u64; 5],
    top: u64,
    frames: usize,
    checked: bool,
    tracer: &mut T,
) -> Result<u64, Trapped> {
    let insns = program.insns();
    let n = insns.len();
    let blocks = program.blocks();
    let helpers: &HelperTable = program.helpers();

    let mut r = [0u64; 11];
    r[1..6].copy_from_slice(&args);
    r[10] = top;
    let mut calls = [Frame {
        ret: 0,
        saved: [0; 5],
    }; CHECKED_MAX_FRAMES];
    let mut depth = 0usize;
    let mut pc = 0usize;

    loop {
        // A checked or verified program never leaves its slots (the load
        // checks refuse falling off the end and bad targets); a program
        // built without checks gets a trap, not a panic.
        let Some(&insn) = insns.get(pc) else {
            return Err(trapped(Trap::Unsupported, pc));
        };
        if checked {
            // blocks.rs: charge the whole block on entering it.
            let cost = u64::from(blocks.cost(pc));
            if cost != 0 {
                if state.budget < cost {
                    return Err(trapped(Trap::BudgetExhausted, pc));
                }
                state.budget -= cost;
            }
        }
        let before = if T::ENABLED { r } else { [0; 11] };
        let at_depth = depth;

        let next = match insn {
            Insn::Alu {
                width: Width::W64,
                op,
                dst,
                src,
            } => {
                let d = dst.index();
                r[d] = alu64(op, r[d], operand64(&r, src));
                Next::At(pc + 1)
            }
            Insn::Alu {
                width: Width::W32,
                op,
                dst,
                src,
            } => {
                let d = dst.index();
                // 32-bit results are zero-extended (RFC 9669 §4.1).
                r[d] = u64::from(alu32(op, r[d] as u32, operand32(&r, src)));
                Next::At(pc + 1)
            }
            Insn::End { kind, bits, dst } => {
                r[dst.index()] = end(kind, bits, r[dst.index()]);
                Next::At(pc + 1)
            }
            Insn::Ja { off, .. } => Next::At(target(pc, off.into(), n)?),
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let t = target(pc, off.into(), n)?;
                let taken = match width {
                    Width::W64 => cond64(cond, r[dst.index()], operand64(&r, src)),
                    Width::W32 => cond32(cond, r[dst.index()] as u32, operand32(&r, src)),
                };
                Next::At(if taken { t } else { pc + 1 })
            }
            Insn::Call(CallTarget::Helper(id)) => {
                // A negative id is no helper: map it past every u32 id.
                let id = u64::try_from(id).unwrap_or(u64::MAX);
                let args = [r[1], r[2], r[3], r[4], r[5]];
                let called = call_helper(helpers, id, state, args, pc, Trap::UnknownHelper)?;
                helper_next(called, &mut r, pc)
            }
            Insn::Call(CallTarget::Reg(reg)) => {
                // uBPF semantics, as the conformance suite expects: the
                // register holds a helper id of the environment's table.
                let id = r[reg.index()];
                let args = [r[1], r[2], r[3], r[4], r[5]];
                let called = call_helper(helpers, id, state, args, pc, Trap::BadCallTarget)?;
                helper_next(called, &mut r, pc)
            }
            Insn::Call(CallTarget::Local(off)) => {
                let t = target(pc, off.into(), n)?;
                if depth + 1 >= frames {
                    return Err(trapped(Trap::CallDepth, pc));
                }
                calls[depth] = Frame {
                    ret: pc + 1,
                    saved: [r[6], r[7], r[8], r[9], r[10]],
                };
                depth += 1;
                // A fresh 512-byte frame below the caller's.
                r[10] = top - (depth * STACK_PER_FRAME) as u64;
                Next::At(t)
            }
            Insn::Call(CallTarget::Kfunc(_)) => return Err(trapped(Trap::Unsupported, pc)),
            Insn::Exit => {
                if depth == 0 {
                    Next::Return(r[0])
                } else {
                    depth -= 1;
                    let f = calls[depth];
                    r[6..11].copy_from_slice(&f.saved);
                    Next::At(f.ret)
                }
            }
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let addr = r[src.index()].wrapping_add(off as i64 as u64);
                check(state, checked, addr, size, false, pc)?;
                // SAFETY: checked mode just validated the access against a
                // region (memory lent to the state for its lifetime, or
                // this run's stack); verified mode has the verifier's proof.
                let v = unsafe { memory::load(addr, size) };
                r[dst.index()] = if signed {
                    match size {
                        Size::B => v as i8 as i64 as u64,
                        Size::H => v as i16 as i64 as u64,
                        Size::W => v as i32 as i64 as u64,
                        Size::DW => v,
                    }
                } else {
                    v
                };
                Next::At(pc + 1)
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let addr = r[dst.index()].wrapping_add(off as i64 as u64);
                // `stdw` stores the sign-extended immediate; narrower
                // stores keep the low bytes either way.
                let v = operand64(&r, src);
                check(state, checked, addr, size, true, pc)?;
                // SAFETY: as for loads, and the region is writable.
                unsafe { memory::store(addr, size, v) };
                Next::At(pc + 1)
            }
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            } => {
                if !matches!(size, Size::W | Size::DW) {
                    // Not encodable (RFC 9669 §5.3); only a hand-built
                    // program can hold it.
                    return Err(trapped(Trap::Unsupported, pc));
                }
                let addr = r[dst.index()].wrapping_add(off as i64 as u64);
                check(state, checked, addr, size, true, pc)?;
                // SAFETY: as for stores.
                let old = unsafe { memory::atomic(addr, size, op, r[src.index()], r[0]) };
                match op {
                    AtomicOp::CmpXchg => r[0] = old,
                    AtomicOp::Xchg => r[src.index()] = old,
                    _ if fetch => r[src.index()] = old,
                    _ => {}
                }
                Next::At(pc + 1)
            }
            Insn::Lddw {
                dst,
                src: LddwSrc::Imm,
                imm,
            } => {
                if !matches!(insns.get(pc + 1), Some(Insn::LddwHi)) {
                    // No second slot: only a program built without checks.
                    return Err(trapped(Trap::Unsupported, pc));
                }
                r[dst.index()] = imm;
                Next::At(pc + 2)
            }
            // Pseudo sources are resolved by the object loader before a
            // program reaches an engine.
            Insn::Lddw { .. } | Insn::LddwHi | Insn::LdPacket { .. } => {
                return Err(trapped(Trap::Unsupported, pc));
            }
        };

        if T::ENABLED {
            tracer.event(pc, &insn, at_depth, &before, &r);
        }
        match next {
            Next::At(n) => pc = n,
            Next::Return(v) => return Ok(v),
        }
    }
}

/// `Reg` for a register index; used by tracing.
pub(crate) fn reg(i: usize) -> Reg {
    Reg::new(i as u8).unwrap_or(Reg::R0)
}
