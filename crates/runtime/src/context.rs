//! Context access rewriting, as the kernel's `convert_ctx_accesses` does.
//!
//! A program reads `ctx->data` as a `u32` at offset 0 of `struct xdp_md`,
//! yet must receive a 64-bit pointer. Before a program runs, every load and
//! store whose base register holds the context is rewritten into an access
//! to the *runtime context*, a structure of 8-byte slots laid out by
//! [`oxbpf_abi::context`]: pointer fields become 8-byte loads, scalar
//! fields (and clang's narrow loads of them) keep their size at the slot's
//! offset plus the byte offset within the field.
//!
//! Which register holds the context at each instruction is found by a small
//! pointer-origin analysis: a forward data-flow over the instructions, where
//! a register (or an 8-byte stack slot it was spilled to) is the context
//! plus a known offset, something else, or either depending on the path.
//! Local calls pass `r1`..`r5` to the callee's entry and preserve `r6`..`r9`
//! and the caller's stack. The verifier will supersede this analysis.
//! Instructions keep their slots, so jump offsets stay valid.

use std::collections::BTreeMap;

use oxbpf_abi::context::{CtxAccessError, CtxLayout};
use oxbpf_isa::{AluOp, CallTarget, Insn, Operand, Reg, Size, Width};

/// Why a program's context accesses cannot be rewritten.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtxRewriteError {
    /// The access does not name an accessible field.
    #[error("insn {index}: context access at offset {offset}: {source}")]
    Access {
        index: usize,
        offset: i64,
        source: CtxAccessError,
    },
    /// The base register is the context on some paths only, or the context
    /// at different offsets.
    #[error("insn {index}: {reg:?} holds the context on some paths but not on others")]
    Ambiguous { index: usize, reg: Reg },
    /// Atomic operations on the context are not allowed.
    #[error("insn {index}: atomic operation on the context")]
    Atomic { index: usize },
    /// The rewritten offset does not fit the instruction.
    #[error("insn {index}: context offset {offset} does not fit a 16-bit offset")]
    OffsetRange { index: usize, offset: i64 },
}

/// What a register or spilled stack slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    Other,
    /// The context plus this offset.
    Ctx(i64),
    /// Different things on different paths.
    Mixed,
}

impl Val {
    fn join(self, other: Val) -> Val {
        if self == other { self } else { Val::Mixed }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    regs: [Val; 11],
    /// Spilled 8-byte slots holding the context, by offset from `r10`.
    stack: BTreeMap<i16, Val>,
}

impl State {
    fn entry(args: [Val; 5]) -> State {
        let mut regs = [Val::Other; 11];
        regs[1..6].copy_from_slice(&args);
        State {
            regs,
            stack: BTreeMap::new(),
        }
    }

    /// Joins `other` into `self`; returns whether `self` changed.
    fn join(&mut self, other: &State) -> bool {
        let mut changed = false;
        for (a, b) in self.regs.iter_mut().zip(other.regs) {
            let j = a.join(b);
            changed |= j != *a;
            *a = j;
        }
        // A slot missing on one side holds something other than the context.
        let keys: Vec<i16> = self
            .stack
            .keys()
            .chain(other.stack.keys())
            .copied()
            .collect();
        for k in keys {
            let a = self.stack.get(&k).copied().unwrap_or(Val::Other);
            let b = other.stack.get(&k).copied().unwrap_or(Val::Other);
            let j = a.join(b);
            if j != a || !self.stack.contains_key(&k) {
                changed |= j != a;
                self.stack.insert(k, j);
            }
        }
        changed
    }

    fn clobber_stack(&mut self, off: i16, len: usize) {
        let (lo, hi) = (i64::from(off), i64::from(off) + len as i64);
        self.stack
            .retain(|&k, _| i64::from(k) + 8 <= lo || i64::from(k) >= hi);
    }
}

/// Rewrites every context access of `insns` for `layout`, the program's
/// entry receiving the context in `r1`.
pub fn rewrite_ctx_accesses(insns: &mut [Insn], layout: &CtxLayout) -> Result<(), CtxRewriteError> {
    let states = analyse(insns);
    for index in 0..insns.len() {
        let Some(state) = &states[index] else {
            continue;
        };
        let base = match insns[index] {
            Insn::Load { src, .. } => src,
            Insn::Store { dst, .. } | Insn::Atomic { dst, .. } => dst,
            _ => continue,
        };
        let origin = match state.regs[base.index()] {
            Val::Other => continue,
            Val::Mixed => return Err(CtxRewriteError::Ambiguous { index, reg: base }),
            Val::Ctx(o) => o,
        };
        let insn = &mut insns[index];
        let (size, off, write) = match *insn {
            Insn::Load { size, off, .. } => (size, off, false),
            Insn::Store { size, off, .. } => (size, off, true),
            _ => return Err(CtxRewriteError::Atomic { index }),
        };
        let offset = origin + i64::from(off);
        let access = layout
            .access(offset, size.bytes() as u8, write)
            .map_err(|source| CtxRewriteError::Access {
                index,
                offset,
                source,
            })?;
        let new_off = i64::from(access.runtime_offset) - origin;
        let new_off =
            i16::try_from(new_off).map_err(|_| CtxRewriteError::OffsetRange { index, offset })?;
        let new_size = match access.runtime_size {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            _ => Size::DW,
        };
        match insn {
            Insn::Load { size, off, .. } | Insn::Store { size, off, .. } => {
                *size = new_size;
                *off = new_off;
            }
            _ => unreachable!("matched above"),
        }
    }
    Ok(())
}

/// The state before each instruction (`None`: unreachable).
fn analyse(insns: &[Insn]) -> Vec<Option<State>> {
    let mut states: Vec<Option<State>> = vec![None; insns.len()];
    let mut work = Vec::new();
    let push = |states: &mut Vec<Option<State>>, work: &mut Vec<usize>, pc: usize, s: &State| {
        let Some(slot) = states.get_mut(pc) else {
            return;
        };
        match slot {
            None => {
                *slot = Some(s.clone());
                work.push(pc);
            }
            Some(old) => {
                if old.join(s) {
                    work.push(pc);
                }
            }
        }
    };
    if insns.is_empty() {
        return states;
    }
    let entry = State::entry([Val::Ctx(0), Val::Other, Val::Other, Val::Other, Val::Other]);
    push(&mut states, &mut work, 0, &entry);
    while let Some(pc) = work.pop() {
        let Some(mut s) = states[pc].clone() else {
            continue;
        };
        let insn = insns[pc];
        let mut next = Vec::with_capacity(2);
        match insn {
            Insn::Alu {
                width: Width::W64,
                op,
                dst,
                src,
            } => {
                let d = dst.index();
                s.regs[d] = match (op, src, s.regs[d]) {
                    (AluOp::Mov, Operand::Reg(r), _) => s.regs[r.index()],
                    (AluOp::Add, Operand::Imm(i), Val::Ctx(o)) => Val::Ctx(o + i64::from(i)),
                    (AluOp::Sub, Operand::Imm(i), Val::Ctx(o)) => Val::Ctx(o - i64::from(i)),
                    _ => Val::Other,
                };
                next.push(pc + 1);
            }
            Insn::Alu { dst, .. } | Insn::End { dst, .. } => {
                s.regs[dst.index()] = Val::Other;
                next.push(pc + 1);
            }
            Insn::Lddw { dst, .. } => {
                s.regs[dst.index()] = Val::Other;
                next.push(pc + 2);
            }
            Insn::LddwHi => {}
            Insn::Load {
                size,
                dst,
                src,
                off,
                ..
            } => {
                s.regs[dst.index()] = if src == Reg::R10 && size == Size::DW {
                    s.stack.get(&off).copied().unwrap_or(Val::Other)
                } else {
                    Val::Other
                };
                next.push(pc + 1);
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                if dst == Reg::R10 {
                    s.clobber_stack(off, size.bytes());
                    if let (Size::DW, Operand::Reg(r)) = (size, src) {
                        let v = s.regs[r.index()];
                        if v != Val::Other {
                            s.stack.insert(off, v);
                        }
                    }
                }
                next.push(pc + 1);
            }
            Insn::Atomic {
                size,
                fetch,
                dst,
                src,
                off,
                op,
            } => {
                if dst == Reg::R10 {
                    s.clobber_stack(off, size.bytes());
                }
                if fetch {
                    let r = if op == oxbpf_isa::AtomicOp::CmpXchg {
                        Reg::R0
                    } else {
                        src
                    };
                    s.regs[r.index()] = Val::Other;
                }
                next.push(pc + 1);
            }
            Insn::Call(CallTarget::Local(off)) => {
                let target = pc as i64 + 1 + i64::from(off);
                if let Ok(t) = usize::try_from(target) {
                    let args = [s.regs[1], s.regs[2], s.regs[3], s.regs[4], s.regs[5]];
                    push(&mut states, &mut work, t, &State::entry(args));
                }
                for r in &mut s.regs[0..6] {
                    *r = Val::Other;
                }
                next.push(pc + 1);
            }
            Insn::Call(_) | Insn::LdPacket { .. } => {
                for r in &mut s.regs[0..6] {
                    *r = Val::Other;
                }
                next.push(pc + 1);
            }
            Insn::Ja { .. } => {
                if let Some(t) = insn.branch_target(pc) {
                    next.extend(usize::try_from(t).ok());
                }
            }
            Insn::Jmp { .. } => {
                next.push(pc + 1);
                if let Some(t) = insn.branch_target(pc) {
                    next.extend(usize::try_from(t).ok());
                }
            }
            Insn::Exit => {}
        }
        for n in next {
            push(&mut states, &mut work, n, &s);
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_abi::context::XDP_MD;
    use oxbpf_isa::asm::assemble;

    fn rewrite(src: &str) -> Result<Vec<Insn>, CtxRewriteError> {
        let mut insns = assemble(src).unwrap();
        rewrite_ctx_accesses(&mut insns, &XDP_MD)?;
        Ok(insns)
    }

    fn load(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::Load {
            size,
            signed: false,
            dst,
            src,
            off,
        }
    }

    #[test]
    fn data_and_data_end_become_pointer_loads() {
        let out =
            rewrite("mov %r6, %r1\nldxw %r2, [%r6+0]\nldxw %r3, [%r1+4]\nldxb %r4, [%r6+13]\nexit")
                .unwrap();
        assert_eq!(out[1], load(Size::DW, Reg::R2, Reg::R6, 0));
        assert_eq!(out[2], load(Size::DW, Reg::R3, Reg::R1, 8));
        // ingress_ifindex byte 1: slot 3 (24) + 1.
        assert_eq!(out[3], load(Size::B, Reg::R4, Reg::R6, 25));
    }

    #[test]
    fn spilled_and_offset_context() {
        let out = rewrite(
            "stxdw [%r10-8], %r1\nmov %r1, 0\nldxdw %r7, [%r10-8]\nadd %r7, 12\nldxw %r0, [%r7+4]\nexit",
        )
        .unwrap();
        // rx_queue_index (16) from ctx+12: runtime slot 32, minus 12.
        assert_eq!(out[4], load(Size::W, Reg::R0, Reg::R7, 20));
    }

    #[test]
    fn non_context_loads_are_untouched() {
        let src = "ldxw %r2, [%r1+0]\nldxw %r3, [%r2+0]\nexit";
        let out = rewrite(src).unwrap();
        assert_eq!(out[1], load(Size::W, Reg::R3, Reg::R2, 0));
    }

    #[test]
    fn context_in_a_subprogram() {
        let out = rewrite("call local f\nmov %r0, 0\nexit\nf: ldxw %r0, [%r1+4]\nexit").unwrap();
        assert_eq!(out[3], load(Size::DW, Reg::R0, Reg::R1, 8));
    }

    #[test]
    fn errors_name_the_insn() {
        assert!(matches!(
            rewrite("mov %r0, 0\nldxw %r0, [%r1+24]\nexit"),
            Err(CtxRewriteError::Access {
                index: 1,
                offset: 24,
                ..
            })
        ));
        assert!(matches!(
            rewrite("jeq %r2, 0, +1\nmov %r1, %r10\nldxw %r0, [%r1+0]\nexit"),
            Err(CtxRewriteError::Ambiguous { index: 2, .. })
        ));
        assert!(matches!(
            rewrite("stw [%r1+0], 1\nexit"),
            Err(CtxRewriteError::Access { index: 0, .. })
        ));
    }
}
