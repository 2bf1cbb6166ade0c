//! Precision tracking (the kernel's `mark_chain_precision` and
//! `backtrack_insn`): which scalars of a stored state must match exactly
//! for a new state to be pruned against it.
//!
//! Every processed instruction of the current path is recorded in a trace
//! ([`Step`]). When a scalar's value decides something that matters for
//! safety (a pointer offset, a helper's size or constant argument, a
//! branch the verifier decided on its own, a divisor, a callback's return
//! value, a constant map key), the registers and stack slots it came from
//! are found by walking the trace backwards, and marked precise in every
//! stored state on the way ([`Precise`]). A state pruned against a stored
//! one inherits that state's marks the same way (`propagate_precision`):
//! its continuation relies on them.
//!
//! Pruning uses only states whose exploration is finished, so their marks
//! are complete when they are compared. The backward rules are
//! conservative: whatever an instruction does not clearly overwrite with a
//! value independent of its inputs stays precise, and the inputs of a
//! precise result become precise.

use super::*;
use crate::state::{Precise, StackBytes};

/// What the backward walk needs to know about one processed instruction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub pc: u32,
    /// Index of the frame that runs it.
    pub depth: u8,
    /// Loads, stores and atomics through a stack pointer with a fixed
    /// offset: the frame and the byte (0 is `r10 - 512`) they start at.
    pub stack: Option<(u8, u16)>,
    /// Loads from the stack: the bytes (of the frame in `stack`) the
    /// loaded value depends on, `from.0..from.1`: the whole slot for a
    /// spilled register.
    pub from: (u16, u16),
    /// Conditional jumps on a scalar linked to others by id: index in
    /// `Checker::links` of the linked locations, which a branch refines
    /// together (`sync_linked_regs`); `u32::MAX` when there are none.
    pub link: u32,
}

/// The slot halves (see [`Precise`]) holding stack bytes `lo..hi`
/// (offsets from r10, negative).
pub(super) fn slot_range(lo: i64, hi: i64) -> u128 {
    let limit = STACK_PER_FRAME as i64;
    halves((lo + limit).max(0), (hi + limit).min(limit))
}

/// The halves touching bytes `lo..hi` of a frame (0 is `r10 - 512`).
fn halves(lo: i64, hi: i64) -> u128 {
    if lo >= hi || lo < 0 || hi > STACK_PER_FRAME as i64 {
        return 0;
    }
    let (first, last) = ((lo / 4) as u32, ((hi - 1) / 4) as u32);
    let upto = |n: u32| {
        if n >= 127 {
            u128::MAX
        } else {
            (1u128 << (n + 1)) - 1
        }
    };
    upto(last) & !(if first == 0 { 0 } else { upto(first - 1) })
}

/// The halves a store of `size` bytes at byte `at` of a frame replaces
/// entirely (stores are aligned to their size).
fn covered(at: i64, size: i64) -> u128 {
    if size >= 4 { halves(at, at + size) } else { 0 }
}

/// No linked locations.
pub(super) const NO_LINK: u32 = u32::MAX;

const ARGS: u16 = 0b11_1110;
const CALL_DEFS: u16 = 0b11_1111;

fn bit(r: Reg) -> u16 {
    1 << r.num()
}

impl Checker<'_> {
    /// The trace entry for `pc`, run from `st`.
    pub(super) fn step_record(&mut self, pc: usize, st: &State) -> Step {
        let depth = st.frames.len() - 1;
        let mut step = Step {
            pc: pc as u32,
            depth: depth as u8,
            stack: None,
            from: (0, 0),
            link: NO_LINK,
        };
        match self.insns[pc] {
            Insn::Load { src: base, off, .. }
            | Insn::Store { dst: base, off, .. }
            | Insn::Atomic { dst: base, off, .. } => {
                if let RegState::Ptr(p) = st.cur().regs[base.index()]
                    && let PtrKind::Stack { frame } = p.kind
                    && p.fixed()
                {
                    let start = p.off + i64::from(off) + STACK_PER_FRAME as i64;
                    if (0..STACK_PER_FRAME as i64).contains(&start) {
                        step.stack = Some((frame, start as u16));
                        if let Insn::Load { size, .. } = self.insns[pc] {
                            let at = start / 8 * 8;
                            let spill = st
                                .frames
                                .get(usize::from(frame))
                                .is_some_and(|f| matches!(f.slot(at as usize / 8), Slot::Spill(_)));
                            step.from = if spill {
                                (at as u16, at as u16 + 8)
                            } else {
                                (start as u16, (start + size.bytes() as i64) as u16)
                            };
                        }
                    }
                }
            }
            Insn::Jmp { dst, src, .. } => {
                let id_of = |r: Reg| match st.cur().regs[r.index()] {
                    RegState::Scalar(s) => s.id,
                    _ => 0,
                };
                let a = id_of(dst);
                let b = match src {
                    Operand::Reg(r) => id_of(r),
                    Operand::Imm(_) => 0,
                };
                if a != 0 || b != 0 {
                    let mut m = Precise::default();
                    let linked = |s: &RegState| matches!(s, RegState::Scalar(x) if x.id != 0 && (x.id == a || x.id == b));
                    for (fi, f) in st.frames.iter().enumerate() {
                        for (r, reg) in f.regs.iter().enumerate() {
                            if linked(reg) {
                                m.regs[fi] |= 1 << r;
                            }
                        }
                        for i in 0..SLOTS {
                            if let Slot::Spill(reg) = f.slot(i)
                                && linked(&reg)
                            {
                                m.slots[fi].add(&StackBytes::range(8 * i as i64, 8 * i as i64 + 8));
                            }
                        }
                    }
                    step.link = self.links.len() as u32;
                    self.links.push(m);
                }
            }
            _ => {}
        }
        step
    }

    /// Marks the scalars among `regs` (a mask over the current frame's
    /// registers) precise in the current state's ancestors.
    pub(super) fn demand_regs(&mut self, st: &State, regs: u16) {
        let f = st.cur();
        let mut m = 0;
        for r in 0..10 {
            if regs & (1 << r) != 0 && matches!(f.regs[r], RegState::Scalar(_)) {
                m |= 1 << r;
            }
        }
        if m == 0 {
            return;
        }
        let mut w = Precise::default();
        w.regs[st.frames.len() - 1] = m;
        self.backtrack(w);
    }

    /// Marks stack bytes `lo..hi` (offsets from r10) of frame `frame`
    /// precise (and read).
    pub(super) fn demand_stack(&mut self, frame: usize, lo: i64, hi: i64) {
        if frame >= KERNEL_MAX_FRAMES {
            return;
        }
        let limit = STACK_PER_FRAME as i64;
        let mut w = Precise::default();
        w.slots[frame] = StackBytes::range(lo + limit, hi + limit);
        self.backtrack(w);
        self.mark_read(frame, slot_range(lo, hi));
    }

    /// Marks the stack halves `mask` of frame `frame` read from the
    /// current state back to where each was last overwritten.
    ///
    /// Only whole overwrites stop a read mark, so it needs no walk over
    /// instructions: each ancestor records which halves were overwritten
    /// between the ancestor before it and itself (a new frame counts as
    /// overwritten whole), and the current ones since the newest.
    pub(super) fn mark_read(&mut self, frame: usize, mask: u128) {
        if frame >= KERNEL_MAX_FRAMES {
            return;
        }
        let mut want = mask & !self.seg_written[frame];
        for a in self.in_progress.iter().rev() {
            if want == 0 {
                return;
            }
            let v = &mut self.visited[a.pc][a.idx].precise.read[frame];
            if *v & want == want {
                return;
            }
            *v |= want;
            want &= !a.written[frame];
        }
    }

    /// Records what `step` overwrote of the stack, for `mark_read`:
    /// stores of 4 or 8 bytes at fixed offsets, and a frame a call
    /// created (`frames` is the frame count after the step).
    pub(super) fn note_written(&mut self, step: &Step, frames: usize) {
        if let (Some((f, at)), Insn::Store { size, .. }) =
            (step.stack, self.insns[step.pc as usize])
            && let Some(w) = self.seg_written.get_mut(usize::from(f))
        {
            *w |= covered(i64::from(at), size.bytes() as i64);
        }
        if frames > usize::from(step.depth) + 1
            && let Some(w) = self.seg_written.get_mut(frames - 1)
        {
            *w = u128::MAX;
        }
    }

    /// Walks the trace back from the current instruction, marking `want`
    /// (transformed through each instruction) in every stored ancestor.
    /// Stops early at an ancestor that already has every mark: the walk
    /// that put them there went on from it.
    ///
    /// Marks only ever name frames up to the one running at the point
    /// reached (a callee's frame is cleared when the walk goes back over
    /// its call), so the set operations look at those frames only.
    pub(super) fn backtrack(&mut self, mut want: Precise) {
        let mut pos = self.cur_pos;
        let mut depth_after = self.cur_depth;
        let mut anc = self.in_progress.len();
        loop {
            while anc > 0 {
                let Ancestor {
                    pc, idx, pos: tp, ..
                } = self.in_progress[anc - 1];
                if tp < pos {
                    break;
                }
                anc -= 1;
                if tp > pos {
                    continue;
                }
                let v = &mut self.visited[pc][idx].precise;
                if want.within_upto(v, depth_after + 1) {
                    return;
                }
                v.add_upto(&want, depth_after + 1);
            }
            if pos == 0 || want.is_empty_upto(depth_after + 1) {
                return;
            }
            pos -= 1;
            let s = self.trace[pos];
            self.back(&s, &mut want, depth_after);
            depth_after = usize::from(s.depth);
        }
    }

    /// The backward transfer of one step: what must be precise before it
    /// for `w` to be precise after it. `depth_after` is the frame index
    /// after the step (calls and exits change it).
    fn back(&self, s: &Step, w: &mut Precise, depth_after: usize) {
        let d = usize::from(s.depth);
        if d >= KERNEL_MAX_FRAMES {
            return;
        }
        match self.insns[s.pc as usize] {
            Insn::Alu { op, dst, src, .. } => {
                if w.regs[d] & bit(dst) != 0 {
                    let mov = matches!(
                        op,
                        AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
                    );
                    if mov {
                        w.regs[d] &= !bit(dst);
                    }
                    if let Operand::Reg(r) = src {
                        w.regs[d] |= bit(r);
                    }
                }
            }
            Insn::End { .. } | Insn::Ja { .. } | Insn::LddwHi => {}
            Insn::Jmp { dst, src, .. } => {
                // A comparison refines both operands and everything linked
                // to them: if any of these matters afterwards, all of them
                // did before (`backtrack_insn`: "dreg <cond> sreg").
                let mut m = bit(dst);
                if let Operand::Reg(r) = src {
                    m |= bit(r);
                }
                let link = (s.link != NO_LINK).then(|| self.links[s.link as usize]);
                let hit = w.regs[d] & m != 0 || link.is_some_and(|l| l.meets(w));
                if hit {
                    w.regs[d] |= m;
                    if let Some(l) = link {
                        w.add(&l);
                    }
                }
            }
            Insn::Call(CallTarget::Local(_))
                if depth_after == d + 1 && d + 1 < KERNEL_MAX_FRAMES =>
            {
                // The callee's r1-r5 are the caller's; its stack is new.
                w.regs[d] |= w.regs[d + 1] & ARGS;
                w.regs[d + 1] = 0;
                w.slots[d + 1] = StackBytes::NONE;
                w.read[d + 1] = 0;
            }
            Insn::Call(CallTarget::Helper(_))
                if depth_after == d + 1 && d + 1 < KERNEL_MAX_FRAMES =>
            {
                // A callback's entry: its r2 is the caller's r3, its r1 a
                // fresh index; the caller's frame is as before the call.
                if w.regs[d + 1] & bit(Reg::R2) != 0 {
                    w.regs[d] |= bit(Reg::R3);
                }
                w.regs[d + 1] = 0;
                w.slots[d + 1] = StackBytes::NONE;
                w.read[d + 1] = 0;
            }
            Insn::Call(_) | Insn::LdPacket { .. } => {
                // r0 is a fresh result, r1-r5 are clobbered.
                w.regs[d] &= !CALL_DEFS;
            }
            Insn::Exit => {
                if d > 0 && depth_after + 1 == d {
                    // Back into the callee: the caller's r0 is its r0.
                    let c = d - 1;
                    let r0 = w.regs[c] & 1;
                    w.regs[c] &= !CALL_DEFS;
                    w.regs[d] = r0;
                    w.slots[d] = StackBytes::NONE;
                    w.read[d] = 0;
                }
            }
            Insn::Load { dst, .. } => {
                if w.regs[d] & bit(dst) != 0 {
                    w.regs[d] &= !bit(dst);
                    if let Some((f, _)) = s.stack
                        && usize::from(f) < KERNEL_MAX_FRAMES
                    {
                        w.slots[usize::from(f)]
                            .add(&StackBytes::range(i64::from(s.from.0), i64::from(s.from.1)));
                    }
                }
            }
            Insn::Store { size, src, .. } => {
                if let Some((f, at)) = s.stack
                    && usize::from(f) < KERNEL_MAX_FRAMES
                {
                    let (f, at, n) = (usize::from(f), i64::from(at), size.bytes() as i64);
                    // A store of 4 or 8 bytes hides what its halves held.
                    let gone = covered(at, n);
                    w.read[f] &= !gone;
                    if w.slots[f].meets(&StackBytes::range(at / 8 * 8, at / 8 * 8 + 8)) {
                        // The value stored matters; the bytes it wrote no
                        // longer depend on what was there.
                        w.slots[f].remove(&StackBytes::range(at, at + n));
                        if let Operand::Reg(r) = src {
                            w.regs[d] |= bit(r);
                        }
                    }
                }
            }
            Insn::Atomic { op, fetch, src, .. } => {
                // The fetched value is unknown whatever the inputs; the
                // slot keeps its marks.
                if op == AtomicOp::CmpXchg {
                    w.regs[d] &= !1;
                } else if fetch || op == AtomicOp::Xchg {
                    w.regs[d] &= !bit(src);
                }
            }
            Insn::Lddw { dst, .. } => w.regs[d] &= !bit(dst),
        }
    }
}
