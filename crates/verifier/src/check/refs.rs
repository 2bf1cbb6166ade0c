//! References and spin locks, and where tail calls may stand.
//!
//! References follow the kernel's acquire/release model
//! (`acquire_reference`, `release_reference`, `check_resource_leak` in
//! `kernel/bpf/verifier.c`): `ringbuf_reserve` hands out a maybe-null
//! record whose copies all carry one reference id ([`Ptr::ref_obj`]); the
//! null branch of a check drops the reference (nothing was reserved);
//! `ringbuf_submit`/`ringbuf_discard` release it and turn every copy into
//! a number. References belong to the path, not to a frame, so
//! subprograms may pass them along; at the main program's `exit`, at a
//! tail call and at the end of a `bpf_loop` callback (for what the
//! callback itself acquired) every held reference is a leak.
//!
//! The spin lock (`process_spin_lock`): at most one is held; while it is,
//! no helper but `spin_unlock` may be called (`do_check`: "function calls
//! are not allowed while holding a lock") and neither the main program's
//! `exit` nor a tail call may be reached.
//!
//! Tail calls (`check_max_stack_depth_subprog`): a subprogram that
//! contains a tail call may only be called when the frames above it use
//! less than 256 bytes of stack together, because a tail call replaces
//! only the current frame and 33 chained calls must fit the kernel stack.

use super::*;
use crate::state::{Held, Lock};

/// Stack the callers of a subprogram containing a tail call may use
/// together (exclusive), in bytes (`check_max_stack_depth_subprog`).
const TAIL_CALL_CALLER_STACK: usize = 256;

/// Where a path ends while holding something.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum LeakAt {
    /// The main program's `exit`.
    Exit,
    /// A `tail_call`, which does not come back when it succeeds.
    TailCall,
}

impl Checker<'_> {
    /// The source line of slot `pc`, in parentheses, when line info exists.
    fn source_of(&self, pc: usize) -> String {
        self.input
            .lines
            .and_then(|f| f(pc))
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    }

    /// Before a helper call: while a spin lock is held, only
    /// `spin_unlock` may be called.
    pub(super) fn lock_allows_helper(&self, pc: usize, st: &State, id: i32) -> R<()> {
        let Some(lock) = st.refs.lock else {
            return Ok(());
        };
        if u32::try_from(id).ok() == Some(helpers::extra_ids::SPIN_UNLOCK) {
            return Ok(());
        }
        let name = helpers::spec(id).map_or("an unknown helper", |s| s.name);
        Err(self.error(
            ErrorKind::LockNotReleased,
            pc,
            Some(st),
            &[],
            format!(
                "call to {name} while holding the spin lock taken at insn {}{}",
                lock.pc,
                self.source_of(lock.pc)
            ),
            Some(
                "function calls are not allowed while holding a lock: call spin_unlock first"
                    .into(),
            ),
        ))
    }

    /// A fresh reference for the maybe-null record `ringbuf_reserve`
    /// returns at `pc`: its null check id is the reference id, as in the
    /// kernel (`id == ref_obj_id`).
    pub(super) fn acquire(&mut self, pc: usize, st: &mut State, mut p: Ptr) -> Ptr {
        let id = self.fresh_id();
        p.maybe_null = true;
        p.id = id;
        p.ref_obj = id;
        st.refs.held.push(Held { id, pc });
        p
    }

    /// Checks that the record in `r` is held and may be released here.
    pub(super) fn check_release(&self, pc: usize, st: &State, r: Reg, p: &Ptr) -> R<()> {
        let held = p.ref_obj != 0 && st.refs.held.iter().any(|h| h.id == p.ref_obj);
        if !held {
            return Err(self.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[r],
                format!(
                    "r{} is not a ring buffer record this path holds: it was never reserved or is already released",
                    r.num()
                ),
                None,
            ));
        }
        if st.refs.callback_floor.is_some_and(|f| p.ref_obj <= f) {
            return Err(self.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[r],
                format!(
                    "r{} is a record its caller reserved: a bpf_loop callback may release only what it reserved itself",
                    r.num()
                ),
                None,
            ));
        }
        Ok(())
    }

    /// Releases reference `id`: every copy of the pointer (registers and
    /// spills, in every frame) becomes a number (privileged) or
    /// uninitialised (strict), as the kernel's `mark_reg_invalid`.
    pub(super) fn release(&self, st: &mut State, id: u32) {
        st.refs.held.retain(|h| h.id != id);
        let gone = if self.strict {
            RegState::Uninit
        } else {
            RegState::UNKNOWN
        };
        st.for_each_reg(|r| {
            if let RegState::Ptr(p) = r
                && p.ref_obj == id
            {
                *r = gone;
            }
        });
    }

    /// At the main program's `exit` or a tail call: nothing may be held.
    pub(super) fn check_leaks(&self, pc: usize, st: &State, at: LeakAt) -> R<()> {
        let what = match at {
            LeakAt::Exit => "the program exits",
            LeakAt::TailCall => "the tail call is made",
        };
        if let Some(lock) = st.refs.lock {
            return Err(self.error(
                ErrorKind::LockNotReleased,
                pc,
                Some(st),
                &[],
                format!(
                    "{what} while holding the spin lock taken at insn {}{}",
                    lock.pc,
                    self.source_of(lock.pc)
                ),
                Some("every path must call spin_unlock before it ends".into()),
            ));
        }
        if let Some(h) = st.refs.held.first() {
            let more = match st.refs.held.len() {
                1 => String::new(),
                n => format!(" ({} more records are held too)", n - 1),
            };
            return Err(self.error(
                ErrorKind::ReferenceLeak,
                pc,
                Some(st),
                &[],
                format!(
                    "the ring buffer record reserved at insn {}{} is neither submitted nor discarded when {what} at insn {pc}{more}",
                    h.pc,
                    self.source_of(h.pc)
                ),
                Some(match at {
                    LeakAt::Exit => {
                        "every path must pass a reserved record to ringbuf_submit or ringbuf_discard".into()
                    }
                    LeakAt::TailCall => {
                        "a tail call does not come back: submit or discard the record before it".into()
                    }
                }),
            ));
        }
        Ok(())
    }

    /// At the `exit` of a `bpf_loop` callback, whose path ends there: what
    /// the callback reserved must be released, and no lock held.
    pub(super) fn check_callback_leaks(&self, pc: usize, st: &State) -> R<()> {
        let floor = st.refs.callback_floor.unwrap_or(0);
        if let Some(lock) = st.refs.lock {
            return Err(self.error(
                ErrorKind::LockNotReleased,
                pc,
                Some(st),
                &[],
                format!(
                    "the callback returns while holding the spin lock taken at insn {}{}",
                    lock.pc,
                    self.source_of(lock.pc)
                ),
                None,
            ));
        }
        if let Some(h) = st.refs.held.iter().find(|h| h.id > floor) {
            return Err(self.error(
                ErrorKind::ReferenceLeak,
                pc,
                Some(st),
                &[],
                format!(
                    "the ring buffer record reserved at insn {}{} is neither submitted nor discarded when the callback returns at insn {pc}",
                    h.pc,
                    self.source_of(h.pc)
                ),
                None,
            ));
        }
        Ok(())
    }

    /// `spin_lock` (`lock`) or `spin_unlock` of the map value in r1.
    pub(super) fn spin_lock(&self, pc: usize, st: &mut State, lock: bool) -> R<()> {
        let Some(RegState::Ptr(p)) = st.cur().regs.get(1).copied() else {
            return Ok(()); // the argument check rejected anything else
        };
        let PtrKind::MapValue { map } = p.kind else {
            return Ok(());
        };
        if !p.fixed() {
            return Err(self.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[Reg::R1],
                "the spin lock must be at a constant offset of the map value",
                None,
            ));
        }
        let name = |m: u32| {
            self.input
                .maps
                .get(m as usize)
                .map_or_else(|| format!("map {m}"), |i| i.name.clone())
        };
        match (lock, st.refs.lock) {
            (true, Some(held)) => Err(self.error(
                ErrorKind::LockNotReleased,
                pc,
                Some(st),
                &[Reg::R1],
                format!(
                    "a second spin lock while holding the one taken at insn {}",
                    held.pc
                ),
                None,
            )),
            (true, None) => {
                st.refs.lock = Some(Lock {
                    map,
                    off: p.off,
                    id: p.id,
                    pc,
                });
                Ok(())
            }
            (false, None) => Err(self.error(
                ErrorKind::LockNotReleased,
                pc,
                Some(st),
                &[Reg::R1],
                "spin_unlock without taking a lock on this path",
                None,
            )),
            (false, Some(held)) if held.map == map && held.off == p.off && held.id != p.id => {
                Err(self.error(
                    ErrorKind::LockNotReleased,
                    pc,
                    Some(st),
                    &[Reg::R1],
                    format!(
                        "spin_unlock of a value of {} from another lookup than the one locked at insn {}",
                        name(map),
                        held.pc
                    ),
                    Some(
                        "unlock through a copy of the pointer that was locked: another lookup may return another value".into(),
                    ),
                ))
            }
            (false, Some(held)) if held.map != map || held.off != p.off => Err(self.error(
                ErrorKind::LockNotReleased,
                pc,
                Some(st),
                &[Reg::R1],
                format!(
                    "spin_unlock of the lock at offset {} of {}, but the lock taken at insn {} is at offset {} of {}",
                    p.off,
                    name(map),
                    held.pc,
                    held.off,
                    name(held.map)
                ),
                None,
            )),
            (false, Some(_)) => {
                st.refs.lock = None;
                Ok(())
            }
        }
    }

    /// On the non-null branch of a lookup's check in a program that takes
    /// locks: the value pointer keeps the lookup's id, which tells its lock
    /// from another lookup's (the kernel keeps `reg->id` for values that
    /// may hold a spin lock, `mark_ptr_or_null_reg`).
    pub(super) fn keep_lock_id(&self, st: &mut State, p: &Ptr) {
        if !self.uses_locks || !matches!(p.kind, PtrKind::MapValue { .. }) {
            return;
        }
        let id = p.id;
        st.for_each_reg(|r| {
            if let RegState::Ptr(q) = r
                && q.maybe_null
                && q.id == id
            {
                q.maybe_null = false;
            }
        });
    }

    /// Records how much stack each function's frame uses (bytes below its
    /// r10 ever written), for [`Checker::check_tail_call_stacks`].
    pub(super) fn note_stack(&mut self, st: &State) {
        let f = st.cur();
        if let Some(e) = self.fn_stack.get_mut(f.entry) {
            *e = (*e).max(f.stack_len() * 8);
        }
    }

    /// After exploration: a subprogram containing a tail call may only be
    /// reached through frames that use less than 256 bytes of stack
    /// together, each rounded up to 16 bytes as for the JIT
    /// (`round_up_stack_depth`). The main program may tail call whatever
    /// its own stack.
    pub(super) fn check_tail_call_stacks(&self) -> R<()> {
        let n = self.insns.len();
        let mut starts = vec![0usize];
        let mut tail_calls: Vec<usize> = Vec::new();
        for (pc, insn) in self.insns.iter().enumerate() {
            match insn {
                Insn::Call(CallTarget::Local(_))
                | Insn::Lddw {
                    src: LddwSrc::Func, ..
                } => {
                    if let Some(t) = insn.branch_target(pc).filter(|t| (0..n as i64).contains(t)) {
                        starts.push(t as usize);
                    }
                }
                Insn::Call(CallTarget::Helper(id))
                    if u32::try_from(*id).ok() == Some(oxbpf_abi::helper::kernel::TAIL_CALL) =>
                {
                    tail_calls.push(pc);
                }
                _ => {}
            }
        }
        if tail_calls.is_empty() {
            return Ok(());
        }
        starts.sort_unstable();
        starts.dedup();
        let func_of = |pc: usize| starts.partition_point(|&s| s <= pc) - 1;
        let end_of = |f: usize| starts.get(f + 1).copied().unwrap_or(n);
        let rounded = |f: usize| {
            let d = self.fn_stack.get(starts[f]).copied().unwrap_or(0);
            d.div_ceil(16) * 16
        };
        // Depth-first over the static call graph, as the kernel walks it:
        // (function, stack of the frames above it, call chain).
        // The rule only gets stricter with more stack above, so a function
        // already walked with at least as much above needs no second walk
        // (this keeps the walk linear-ish where call sites multiply).
        let mut walked: Vec<Option<usize>> = vec![None; starts.len()];
        let mut todo: Vec<(usize, usize, Vec<usize>)> = vec![(0, 0, Vec::new())];
        while let Some((f, above, chain)) = todo.pop() {
            if chain.len() >= KERNEL_MAX_FRAMES || walked[f].is_some_and(|w| w >= above) {
                continue; // recursion or depth: reported during exploration
            }
            walked[f] = Some(above);
            if f != 0
                && above >= TAIL_CALL_CALLER_STACK
                && let Some(&tc) = tail_calls.iter().find(|&&t| func_of(t) == f)
            {
                let path: Vec<String> = chain.iter().map(|c| format!("insn {c}")).collect();
                return Err(self.error(
                    ErrorKind::CallDepth,
                    tc,
                    None,
                    &[],
                    format!(
                        "tail call in the function at insn {} while the frames calling it use {above} bytes of stack (calls at {})",
                        starts[f],
                        path.join(", ")
                    ),
                    Some(format!(
                        "tail calls are allowed only when the callers' frames use less than {TAIL_CALL_CALLER_STACK} bytes together (each rounded up to 16)"
                    )),
                ));
            }
            let depth = above + rounded(f);
            for pc in starts[f]..end_of(f) {
                if let Insn::Call(CallTarget::Local(_)) = self.insns[pc]
                    && let Some(t) = self.insns[pc].branch_target(pc)
                    && (0..n as i64).contains(&t)
                {
                    let mut c = chain.clone();
                    c.push(pc);
                    todo.push((func_of(t as usize), depth, c));
                }
            }
        }
        Ok(())
    }
}

/// Whether the program calls `spin_lock` anywhere.
pub(super) fn uses_locks(insns: &[Insn]) -> bool {
    insns.iter().any(|i| {
        matches!(i, Insn::Call(CallTarget::Helper(id))
            if u32::try_from(*id).ok() == Some(helpers::extra_ids::SPIN_LOCK))
    })
}

/// On the null branch of a check of a reserved record nothing was
/// reserved: the reference goes away (`mark_ptr_or_null_regs`).
pub(super) fn drop_ref(st: &mut State, id: u32) {
    st.refs.held.retain(|h| h.id != id);
}
