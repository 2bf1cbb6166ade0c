//! The exploration: control-flow checks, then a depth-first walk over all
//! paths with a transfer function per instruction (`do_check` in
//! `kernel/bpf/verifier.c` is the model).

use oxbpf_abi::context::{CtxLayout, FieldKind, SK_BUFF_SOCKET, SK_BUFF_TC, XDP_MD};
use oxbpf_abi::limits::{KERNEL_MAX_FRAMES, STACK_PER_FRAME};
use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::disasm::format_insn;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};

use crate::error::{BranchStep, ErrorKind, RegNote, VerifyError};
use crate::helpers::{self, Arg, Ret};
use crate::scalar::{self, Scalar};
use crate::state::{
    ByteState, Frame, Precise, Ptr, PtrKind, RegState, SLOTS, Slot, State, subsumes_with,
};
use crate::{Input, InsnFacts, Outcome, Profile, RegType, Stats, VerifiedProgram};

mod alu;
mod branch;
mod calls;
mod mem;
mod precision;
mod refs;

use mem::{set_stack_byte, stack_byte, stack_const};

type R<T> = Result<T, Box<VerifyError>>;

/// Largest variable offset a pointer may carry (the kernel's
/// `BPF_MAX_VAR_OFF`, 1 << 29).
const MAX_VAR_OFF: i64 = 1 << 29;
/// Largest packet offset (the kernel's `MAX_PACKET_OFF`).
const MAX_PACKET_OFF: i64 = 0xffff;
/// Stored states per instruction, beyond which new ones are not kept.
const MAX_STORED: usize = 64;
/// Lines of state log kept.
const MAX_LOG: usize = 100_000;
/// Marks a frame entered for a helper callback: its `exit` ends the path.
const CALLBACK_RET: usize = usize::MAX;

/// What to do after an instruction.
enum Flow {
    Next(usize),
    /// Continue at `next`; also explore `other` later.
    Fork {
        next: usize,
        other: (usize, Box<State>),
    },
    /// The path ends.
    End,
}

struct Visited {
    state: State,
    done: bool,
    /// States it pruned, to choose which to forget when the list is full.
    hits: u32,
    /// Scalars that must match for a state to be pruned against it.
    precise: Precise,
}

/// A path waiting to be explored: where, from which state, and the trace
/// and link lengths and overwritten stack at its fork.
struct Pending {
    pc: usize,
    state: Box<State>,
    trace: usize,
    links: usize,
    written: [u128; KERNEL_MAX_FRAMES],
}

/// A stored state on the current path.
#[derive(Clone, Copy)]
struct Ancestor {
    pc: usize,
    /// Index in `visited[pc]`.
    idx: usize,
    /// Worklist length when it was stored.
    level: usize,
    /// Trace position of its state.
    pos: usize,
    /// Stack halves overwritten between the previous ancestor and it.
    written: [u128; KERNEL_MAX_FRAMES],
}

struct Checker<'a> {
    input: &'a Input<'a>,
    insns: &'a [Insn],
    strict: bool,
    prune_point: Vec<bool>,
    /// Registers live on entry to each slot.
    live: Vec<crate::liveness::RegSet>,
    visited: Vec<Vec<Visited>>,
    /// Stored states whose successors are still being explored, oldest
    /// first: the current path's ancestors.
    in_progress: Vec<Ancestor>,
    /// Stack halves of each frame overwritten since the newest ancestor
    /// (for the read marks, see [`Checker::mark_read`]).
    seg_written: [u128; KERNEL_MAX_FRAMES],
    /// The instructions of the current path, for precision tracking.
    trace: Vec<precision::Step>,
    /// Linked locations of the trace's conditional jumps.
    links: Vec<Precise>,
    /// Trace position and frame index of the state being processed.
    cur_pos: usize,
    cur_depth: usize,
    facts: Vec<InsnFacts>,
    stats: Stats,
    next_id: u32,
    log: Vec<String>,
    warnings: Vec<String>,
    /// Stack bytes each function's frame uses, by entry slot (for the
    /// tail call rule in `refs.rs`).
    fn_stack: Vec<usize>,
    /// The program calls `spin_lock`: map value pointers keep the id of
    /// their lookup, which names their lock (see `refs.rs`).
    uses_locks: bool,
    /// Some path may read a stack byte no instruction wrote (allowed in
    /// the privileged profile; see [`VerifiedProgram::reads_uninit_stack`]).
    reads_uninit_stack: Option<usize>,
}

pub(crate) fn run(input: &Input<'_>) -> Outcome {
    scalar::clear_sync_cache();
    let mut c = Checker {
        input,
        insns: input.insns,
        strict: input.options.profile == Profile::Strict,
        prune_point: vec![false; input.insns.len()],
        live: crate::liveness::live_in(input.insns),
        visited: (0..input.insns.len()).map(|_| Vec::new()).collect(),
        in_progress: Vec::new(),
        seg_written: [0; KERNEL_MAX_FRAMES],
        trace: Vec::new(),
        links: Vec::new(),
        cur_pos: 0,
        cur_depth: 0,
        facts: vec![InsnFacts::default(); input.insns.len()],
        stats: Stats {
            insns: input.insns.len(),
            ..Stats::default()
        },
        next_id: 1,
        log: Vec::new(),
        warnings: Vec::new(),
        fn_stack: vec![0; input.insns.len()],
        uses_locks: refs::uses_locks(input.insns),
        reads_uninit_stack: None,
    };
    let result = c
        .cfg()
        .and_then(|()| c.explore())
        .and_then(|()| c.check_tail_call_stacks());
    let stats = c.stats;
    let log = std::mem::take(&mut c.log);
    let result = result.map(|()| VerifiedProgram {
        insns: input.insns.to_vec(),
        program_type: input.program_type,
        profile: input.options.profile,
        facts: c.facts,
        stats,
        warnings: c.warnings,
        reads_uninit_stack: c.reads_uninit_stack,
        log: if input.options.log_states {
            log.clone()
        } else {
            Vec::new()
        },
    });
    Outcome { result, log, stats }
}

/// The context layout of a program type, when oxbpf knows it.
fn layout(t: ProgramType) -> Option<&'static CtxLayout> {
    match t {
        ProgramType::Xdp => Some(&XDP_MD),
        ProgramType::SchedCls | ProgramType::SchedAct => Some(&SK_BUFF_TC),
        ProgramType::SocketFilter | ProgramType::CgroupSkb => Some(&SK_BUFF_SOCKET),
        _ => None,
    }
}

fn imm64(i: i32) -> u64 {
    i64::from(i) as u64
}

fn reg_type(r: &RegState) -> RegType {
    match r {
        RegState::Uninit | RegState::Scratched { .. } | RegState::Stale { .. } => RegType::NotInit,
        RegState::Scalar(_) => RegType::Scalar,
        RegState::Ptr(p) => match p.kind {
            PtrKind::Ctx => RegType::Ctx,
            PtrKind::Stack { .. } => RegType::Stack,
            PtrKind::Packet => RegType::Packet,
            PtrKind::PacketEnd => RegType::PacketEnd,
            PtrKind::PacketMeta => RegType::PacketMeta,
            PtrKind::MapValue { .. } if p.maybe_null => RegType::MapValueOrNull,
            PtrKind::MapValue { .. } => RegType::MapValue,
            PtrKind::MapPtr { .. } => RegType::MapPtr,
            PtrKind::Mem { .. } => RegType::Mem,
            PtrKind::Func { .. } => RegType::Func,
        },
    }
}

/// How memory is accessed.
#[derive(Clone, Copy)]
enum Access {
    Load,
    /// A store of `value`.
    Store {
        value: RegState,
    },
    Atomic,
}

impl Access {
    fn writes(&self) -> bool {
        !matches!(self, Access::Load)
    }
}

impl<'a> Checker<'a> {
    // ---------------------------------------------------------------
    // Diagnostics

    fn disasm(&self, pc: usize) -> String {
        self.insns
            .get(pc)
            .map(|i| format_insn(i, pc))
            .unwrap_or_default()
    }

    fn error(
        &self,
        kind: ErrorKind,
        pc: usize,
        st: Option<&State>,
        regs: &[Reg],
        message: impl Into<String>,
        detail: Option<String>,
    ) -> Box<VerifyError> {
        let notes = match st {
            Some(st) => regs
                .iter()
                .map(|r| RegNote {
                    reg: r.num(),
                    state: st.cur().regs[r.index()].describe(self.input.maps),
                })
                .collect(),
            None => Vec::new(),
        };
        let path = st
            .map(|s| {
                s.path_list(16)
                    .into_iter()
                    .map(|(pc, taken)| BranchStep {
                        pc,
                        insn: self.disasm(pc),
                        taken,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Box::new(VerifyError {
            kind,
            pc: Some(pc),
            insn: (pc < self.insns.len()).then(|| self.disasm(pc)),
            source: self.input.lines.and_then(|f| f(pc)),
            message: message.into(),
            regs: notes,
            detail,
            path,
        })
    }

    fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    // ---------------------------------------------------------------
    // Control flow, before any state: every slot decodes to something
    // sensible, every target is inside the program and not inside an
    // `lddw`, no path falls off the end, every instruction is reachable
    // (`check_cfg`).

    fn cfg(&mut self) -> R<()> {
        let n = self.insns.len();
        if n == 0 {
            return Err(Box::new(VerifyError {
                kind: ErrorKind::Malformed,
                pc: None,
                insn: None,
                source: None,
                message: "the program has no instructions".into(),
                regs: vec![],
                detail: None,
                path: vec![],
            }));
        }
        for pc in 0..n {
            match self.insns[pc] {
                Insn::Lddw { .. } if !matches!(self.insns.get(pc + 1), Some(Insn::LddwHi)) => {
                    return Err(self.error(
                        ErrorKind::Malformed,
                        pc,
                        None,
                        &[],
                        "lddw is missing its second slot",
                        None,
                    ));
                }
                Insn::LddwHi if pc == 0 || !matches!(self.insns[pc - 1], Insn::Lddw { .. }) => {
                    return Err(self.error(
                        ErrorKind::Malformed,
                        pc,
                        None,
                        &[],
                        "the second half of an lddw without its first",
                        None,
                    ));
                }
                Insn::Alu {
                    op: AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod,
                    src: Operand::Imm(0),
                    ..
                } => {
                    return Err(self.error(
                        ErrorKind::Malformed,
                        pc,
                        None,
                        &[],
                        "division by the immediate zero",
                        None,
                    ));
                }
                Insn::Alu {
                    op: AluOp::Lsh | AluOp::Rsh | AluOp::Arsh,
                    src: Operand::Imm(k),
                    width,
                    ..
                } => {
                    let bits = if width == Width::W64 { 64 } else { 32 };
                    if k < 0 || k >= bits {
                        return Err(self.error(
                            ErrorKind::Malformed,
                            pc,
                            None,
                            &[],
                            format!("shift by {k}, outside 0..{bits}"),
                            None,
                        ));
                    }
                }
                Insn::Call(CallTarget::Reg(_)) => {
                    return Err(self.error(
                        ErrorKind::Malformed,
                        pc,
                        None,
                        &[],
                        "callx (call through a register) is not supported",
                        None,
                    ));
                }
                _ => {}
            }
            if let Some(t) = self.insns[pc].branch_target(pc) {
                if t < 0 || t >= n as i64 {
                    return Err(self.error(
                        ErrorKind::JumpOutOfRange,
                        pc,
                        None,
                        &[],
                        format!("jump target {t} is outside the program (0..{n})"),
                        None,
                    ));
                }
                if matches!(self.insns[t as usize], Insn::LddwHi) {
                    return Err(self.error(
                        ErrorKind::JumpIntoLddw,
                        pc,
                        None,
                        &[],
                        format!(
                            "jump target {t} is the second slot of the lddw at {}",
                            t - 1
                        ),
                        None,
                    ));
                }
                if matches!(self.insns[pc], Insn::Ja { .. } | Insn::Jmp { .. }) {
                    self.prune_point[t as usize] = true;
                }
                // As the kernel (`visit_insn`), also at conditional jumps
                // themselves, before their state splits.
                if matches!(self.insns[pc], Insn::Jmp { .. }) {
                    self.prune_point[pc] = true;
                }
            }
        }
        // Reachability over both edges of every branch.
        let mut seen = vec![false; n];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if seen[pc] {
                continue;
            }
            seen[pc] = true;
            let insn = self.insns[pc];
            if let Some(t) = insn.branch_target(pc) {
                todo.push(t as usize);
            }
            if insn.falls_through() {
                let next = pc + insn.slots();
                if next >= n {
                    return Err(self.error(
                        ErrorKind::JumpOutOfRange,
                        pc,
                        None,
                        &[],
                        "control falls off the end of the program",
                        Some(
                            "the last instruction of every path must be exit or a jump back".into(),
                        ),
                    ));
                }
                todo.push(next);
            }
        }
        if let Some(pc) = (0..n).find(|&pc| !seen[pc] && !matches!(self.insns[pc], Insn::LddwHi)) {
            return Err(self.error(
                ErrorKind::Unreachable,
                pc,
                None,
                &[],
                "no path reaches this instruction",
                None,
            ));
        }
        Ok(())
    }

    // ---------------------------------------------------------------
    // Exploration

    fn explore(&mut self) -> R<()> {
        let mut init = State {
            frames: vec![Frame::new(0, 0, None)],
            refs: Default::default(),
            path: None,
        };
        init.cur_mut().regs[1] = RegState::Ptr(Ptr::new(PtrKind::Ctx));
        let mut work: Vec<Pending> = vec![Pending {
            pc: 0,
            state: Box::new(init),
            trace: 0,
            links: 0,
            written: [0; KERNEL_MAX_FRAMES],
        }];
        while let Some(item) = work.pop() {
            let (mut pc, mut st) = (item.pc, item.state);
            self.trace.truncate(item.trace);
            self.links.truncate(item.links);
            self.seg_written = item.written;
            let level = work.len();
            while let Some(&a) = self.in_progress.last() {
                if a.level > level {
                    self.visited[a.pc][a.idx].done = true;
                    self.in_progress.pop();
                } else {
                    break;
                }
            }
            loop {
                self.cur_pos = self.trace.len();
                self.cur_depth = st.frames.len() - 1;
                if self.prune_point[pc] {
                    self.forget_dead(pc, &mut st);
                }
                if self.prune_point[pc] && self.seen_before(pc, &st, work.len())? {
                    self.stats.pruned += 1;
                    break;
                }
                self.stats.processed += 1;
                if self.stats.processed > self.input.options.budget {
                    return Err(self.error(
                        ErrorKind::ComplexityLimit,
                        pc,
                        Some(&st),
                        &[],
                        format!(
                            "the program needs more than {} processed instructions to verify",
                            self.input.options.budget
                        ),
                        None,
                    ));
                }
                self.note(pc, &st);
                let step = self.step_record(pc, &st);
                self.trace.push(step);
                let flow = self.step(pc, &mut st)?;
                self.note_written(&step, st.frames.len());
                match flow {
                    Flow::Next(n) => pc = n,
                    Flow::End => break,
                    Flow::Fork { next, other } => {
                        let mut written = self.seg_written;
                        if let Some(w) = written.get_mut(other.1.frames.len() - 1)
                            && other.1.frames.len() > st.frames.len()
                        {
                            *w = u128::MAX;
                        }
                        work.push(Pending {
                            pc: other.0,
                            state: other.1,
                            trace: self.trace.len(),
                            links: self.links.len(),
                            written,
                        });
                        self.stats.peak_states = self.stats.peak_states.max(work.len());
                        pc = next;
                    }
                }
            }
        }
        Ok(())
    }

    /// Forgets registers no path from here reads: in the current frame
    /// those dead at `pc`; in callers, r0-r5 (set by the return) and the
    /// r6-r9 dead where the call returns.
    fn forget_dead(&self, pc: usize, st: &mut State) {
        let depth = st.frames.len();
        for i in 0..depth {
            let live = if i + 1 == depth {
                self.live[pc]
            } else {
                match st.frames[i + 1].ret {
                    Some(r) if r != CALLBACK_RET => self.live.get(r).copied().unwrap_or(0) & 0x3c0,
                    _ => 0,
                }
            };
            let f = &mut st.frames[i];
            for (r, reg) in f.regs.iter_mut().enumerate().take(10) {
                if live & (1 << r) == 0 && !matches!(reg, RegState::Uninit) {
                    *reg = RegState::Uninit;
                }
            }
        }
    }

    /// Whether a stored state at `pc` covers `st`; stores `st` otherwise.
    fn seen_before(&mut self, pc: usize, st: &State, level: usize) -> R<bool> {
        let strict = self.strict;
        let exact = self.input.options.exact_pruning;
        for v in self.visited[pc].iter_mut() {
            if v.done {
                // Everything reachable from `v` was explored without error,
                // and its precision marks are complete.
                // Privileged pruning lets an uninitialised stack byte of
                // `st` match an initialised one of `v` (reading it gives
                // an unknown number either way). Until some path is found
                // to read uninitialised stack, pruning does without that
                // allowance, so that a path that would read such a byte
                // is explored and found (`reads_uninit_stack`, which lets
                // engines skip zeroing the stack when it stays `None`).
                let uninit_readable = !strict && self.reads_uninit_stack.is_some();
                let covered = if exact {
                    subsumes_with(&v.state, st, &Precise::ALL, false)
                } else {
                    subsumes_with(&v.state, st, &v.precise, uninit_readable)
                };
                if covered {
                    v.hits += 1;
                    // The rest of this path relies on what `v` relied on.
                    let mut p = v.precise;
                    let reads = std::mem::take(&mut p.read);
                    self.backtrack(p);
                    for (f, r) in reads.into_iter().enumerate() {
                        self.mark_read(f, r);
                    }
                    return Ok(true);
                }
            } else if v.state.frames == st.frames {
                // `v` is an ancestor of `st` (its exploration is under
                // way): the loop came back to the very same state, so it
                // can run forever. Pruning against an unfinished ancestor
                // that merely subsumes `st` would accept loops that never
                // end; such loops are unrolled instead, under the budget.
                return Err(self.error(
                    ErrorKind::UnboundedLoop,
                    pc,
                    Some(st),
                    &[],
                    format!("infinite loop: the loop at insn {pc} comes back to the same state"),
                    None,
                ));
            }
        }
        let entry = Visited {
            state: st.clone(),
            done: false,
            hits: 0,
            precise: Precise::default(),
        };
        let list = &mut self.visited[pc];
        let index = if list.len() < MAX_STORED {
            list.push(entry);
            Some(list.len() - 1)
        } else {
            // Full: forget the finished state that pruned least (unfinished
            // ones are ancestors, kept for loop detection).
            let victim = list
                .iter()
                .enumerate()
                .filter(|(_, v)| v.done)
                .min_by_key(|(_, v)| v.hits)
                .map(|(i, _)| i);
            if let Some(i) = victim {
                list[i] = entry;
                self.stats.evicted += 1;
            }
            victim
        };
        self.stats.max_states_per_insn = self.stats.max_states_per_insn.max(list.len());
        if let Some(i) = index {
            self.in_progress.push(Ancestor {
                pc,
                idx: i,
                level,
                pos: self.cur_pos,
                written: self.seg_written,
            });
            self.seg_written = [0; KERNEL_MAX_FRAMES];
            self.stats.states += 1;
        }
        Ok(false)
    }

    /// Records facts (and the log line) for an instruction about to run.
    fn note(&mut self, pc: usize, st: &State) {
        self.note_stack(st);
        let f = &mut self.facts[pc];
        let regs = &st.cur().regs;
        if !f.reached {
            for (e, r) in f.entry.iter_mut().zip(regs) {
                *e = reg_type(r);
            }
            f.divisor_nonzero = true;
            f.reached = true;
        } else {
            // Once mixed, always mixed: no need to look again.
            for (e, r) in f.entry.iter_mut().zip(regs) {
                if *e != RegType::Mixed && *e != reg_type(r) {
                    *e = RegType::Mixed;
                }
            }
        }
        if self.input.options.log_states && self.log.len() < MAX_LOG {
            let mut line = format!("{pc}: {}", self.disasm(pc));
            let mut first = true;
            for (i, r) in regs.iter().enumerate() {
                if r.is_init() {
                    line += if first { "  ; " } else { ", " };
                    first = false;
                    line += &format!("r{i} = {}", r.describe(self.input.maps));
                }
            }
            self.log.push(line);
        }
    }

    // ---------------------------------------------------------------
    // Registers

    fn read(&self, pc: usize, st: &State, r: Reg) -> R<RegState> {
        let v = st.cur().regs[r.index()];
        match v {
            RegState::Uninit => Err(self.error(
                ErrorKind::UninitRegister,
                pc,
                Some(st),
                &[],
                format!("r{} is read before it is written", r.num()),
                None,
            )),
            RegState::Scratched { at } => Err(self.error(
                ErrorKind::ScratchedRegister,
                pc,
                Some(st),
                &[r],
                format!(
                    "r{} is read after the call at insn {at}, which clobbered it",
                    r.num()
                ),
                Some("calls preserve only r6-r9 and r10; save values there or on the stack".into()),
            )),
            _ => Ok(v),
        }
    }

    fn stale(&self, pc: usize, st: &State, r: Reg) -> Box<VerifyError> {
        self.error(
            ErrorKind::StalePacketPointer,
            pc,
            Some(st),
            &[r],
            format!(
                "r{} is used after a helper that may have moved the packet",
                r.num()
            ),
            Some("reload data and data_end from the context and check bounds again".into()),
        )
    }

    fn write(&self, pc: usize, st: &mut State, r: Reg, v: RegState) -> R<()> {
        if r == Reg::R10 {
            return Err(self.error(
                ErrorKind::WriteR10,
                pc,
                Some(st),
                &[],
                "r10, the frame pointer, is read-only",
                None,
            ));
        }
        st.cur_mut().regs[r.index()] = v;
        Ok(())
    }

    // ---------------------------------------------------------------
    // Instructions

    fn step(&mut self, pc: usize, st: &mut State) -> R<Flow> {
        let insn = self.insns[pc];
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                self.alu(pc, st, width, op, dst, src)?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::End { kind, bits, dst } => {
                if dst == Reg::R10 {
                    return self
                        .write(pc, st, dst, RegState::UNKNOWN)
                        .map(|()| Flow::End);
                }
                let v = self.read(pc, st, dst)?;
                let s = match v {
                    RegState::Scalar(s) => s,
                    RegState::Stale { .. } => return Err(self.stale(pc, st, dst)),
                    _ if self.strict => {
                        return Err(self.error(
                            ErrorKind::PointerLeak,
                            pc,
                            Some(st),
                            &[dst],
                            "byte swap of a pointer",
                            None,
                        ));
                    }
                    _ => Scalar::UNKNOWN,
                };
                let bytes = usize::from(bits / 8);
                let r = match s.as_const() {
                    Some(v) => {
                        let low = if bits == 64 {
                            v
                        } else {
                            v & ((1u64 << bits) - 1)
                        };
                        let swapped = match kind {
                            Endian::ToLe => low,
                            Endian::ToBe | Endian::Swap => {
                                low.swap_bytes() >> (64 - u32::from(bits))
                            }
                        };
                        Scalar::constant(swapped)
                    }
                    None => match kind {
                        Endian::ToLe => s.truncate(bytes),
                        _ => {
                            if bytes >= 8 {
                                Scalar::UNKNOWN
                            } else {
                                Scalar::unsigned_upto((1u64 << bits) - 1)
                            }
                        }
                    },
                };
                self.write(pc, st, dst, RegState::Scalar(r))?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::Ja { .. } => Ok(Flow::Next(
                insn.branch_target(pc).expect("ja has a target") as usize
            )),
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let target = insn.branch_target(pc).expect("jumps have targets") as usize;
                self.branch(pc, st, width, cond, dst, src, target)
            }
            Insn::Call(CallTarget::Helper(id)) => self.call_helper(pc, st, id),
            Insn::Call(CallTarget::Local(_)) => {
                let target = insn.branch_target(pc).expect("calls have targets") as usize;
                if st.frames.len() >= KERNEL_MAX_FRAMES {
                    return Err(self.error(
                        ErrorKind::CallDepth,
                        pc,
                        Some(st),
                        &[],
                        format!("calls nest deeper than {KERNEL_MAX_FRAMES} frames"),
                        None,
                    ));
                }
                let depth = st.frames.len() as u8;
                let mut f = Frame::new(depth, target, Some(pc + 1));
                f.regs[1..6].copy_from_slice(&st.cur().regs[1..6]);
                st.frames.push(f);
                Ok(Flow::Next(target))
            }
            Insn::Call(CallTarget::Kfunc(id)) => Err(self.error(
                ErrorKind::HelperNotAllowed,
                pc,
                Some(st),
                &[],
                format!("kfunc calls (BTF id {id}) are not supported"),
                None,
            )),
            Insn::Call(CallTarget::Reg(_)) => Err(self.error(
                ErrorKind::Malformed,
                pc,
                Some(st),
                &[],
                "callx is not supported",
                None,
            )),
            Insn::Exit => self.exit(pc, st),
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let mut v = self.mem(pc, st, src, off, size.bytes(), Access::Load)?;
                if signed && let RegState::Scalar(s) = v {
                    v = RegState::Scalar(s.sign_extend(size.bytes() as u32 * 8));
                }
                self.write(pc, st, dst, v)?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let value = match src {
                    Operand::Imm(i) => RegState::Scalar(Scalar::constant(imm64(i))),
                    Operand::Reg(r) => self.read(pc, st, r)?,
                };
                self.mem(pc, st, dst, off, size.bytes(), Access::Store { value })?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            } => {
                let v = self.read(pc, st, src)?;
                if let RegState::Ptr(_) = v
                    && self.strict
                {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(st),
                        &[src],
                        format!("r{} leaks a pointer into memory", src.num()),
                        None,
                    ));
                }
                if let RegState::Stale { .. } = v {
                    return Err(self.stale(pc, st, src));
                }
                if op == AtomicOp::CmpXchg {
                    self.read(pc, st, Reg::R0)?;
                }
                self.mem(pc, st, dst, off, size.bytes(), Access::Atomic)?;
                let out = if size == Size::W {
                    Scalar::unsigned_upto(u64::from(u32::MAX))
                } else {
                    Scalar::UNKNOWN
                };
                match op {
                    AtomicOp::CmpXchg => self.write(pc, st, Reg::R0, RegState::Scalar(out))?,
                    _ if fetch || op == AtomicOp::Xchg => {
                        self.write(pc, st, src, RegState::Scalar(out))?
                    }
                    _ => {}
                }
                Ok(Flow::Next(pc + 1))
            }
            Insn::Lddw { dst, src, imm } => {
                let v = self.lddw(pc, st, src, imm)?;
                self.write(pc, st, dst, v)?;
                Ok(Flow::Next(pc + 2))
            }
            Insn::LddwHi => Err(self.error(
                ErrorKind::Malformed,
                pc,
                Some(st),
                &[],
                "execution reaches the second half of an lddw",
                None,
            )),
            Insn::LdPacket { size, src, .. } => {
                let t = self.input.program_type;
                if !matches!(
                    t,
                    ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct
                ) {
                    return Err(self.error(
                        ErrorKind::Malformed,
                        pc,
                        Some(st),
                        &[],
                        format!(
                            "legacy packet loads (ldabs/ldind) are not allowed in {t} programs"
                        ),
                        None,
                    ));
                }
                let ctx = self.read(pc, st, Reg::R6)?;
                if !matches!(ctx, RegState::Ptr(p) if p.kind == PtrKind::Ctx && p.off == 0) {
                    return Err(self.error(
                        ErrorKind::CtxAccess,
                        pc,
                        Some(st),
                        &[Reg::R6],
                        "ldabs/ldind need the context in r6",
                        None,
                    ));
                }
                if let Some(r) = src {
                    match self.read(pc, st, r)? {
                        RegState::Scalar(_) => {}
                        _ => {
                            return Err(self.error(
                                ErrorKind::PointerArithmetic,
                                pc,
                                Some(st),
                                &[r],
                                "ldind needs a number as its offset",
                                None,
                            ));
                        }
                    }
                }
                for r in 1..=5 {
                    st.cur_mut().regs[r] = RegState::Scratched { at: pc };
                }
                let bits = size.bytes() * 8;
                st.cur_mut().regs[0] = RegState::Scalar(if bits >= 64 {
                    Scalar::UNKNOWN
                } else {
                    Scalar::unsigned_upto((1u64 << bits) - 1)
                });
                Ok(Flow::Next(pc + 1))
            }
        }
    }

    fn lddw(&mut self, pc: usize, st: &State, src: LddwSrc, imm: u64) -> R<RegState> {
        let maps = self.input.maps;
        let map_at = |i: u64| -> R<u32> {
            let idx = (i & 0xffff_ffff) as usize;
            if idx < maps.len() {
                Ok(idx as u32)
            } else {
                Err(self.error(
                    ErrorKind::Malformed,
                    pc,
                    Some(st),
                    &[],
                    format!(
                        "lddw refers to map {idx}, but the program has {} maps",
                        maps.len()
                    ),
                    None,
                ))
            }
        };
        Ok(match src {
            LddwSrc::Imm => RegState::Scalar(Scalar::constant(imm)),
            LddwSrc::MapFd | LddwSrc::MapIdx => {
                RegState::Ptr(Ptr::new(PtrKind::MapPtr { map: map_at(imm)? }))
            }
            LddwSrc::MapValue | LddwSrc::MapIdxValue => {
                let map = map_at(imm)?;
                let off = imm >> 32;
                let size = u64::from(maps[map as usize].value_size);
                if off >= size {
                    return Err(self.error(
                        ErrorKind::MapValueOutOfBounds,
                        pc,
                        Some(st),
                        &[],
                        format!("lddw points at offset {off} of a {size}-byte map value"),
                        None,
                    ));
                }
                let mut p = Ptr::new(PtrKind::MapValue { map });
                p.off = off as i64;
                RegState::Ptr(p)
            }
            LddwSrc::Func => {
                let entry = self.insns[pc].branch_target(pc).expect("func has a target") as usize;
                RegState::Ptr(Ptr::new(PtrKind::Func { entry }))
            }
            LddwSrc::BtfId => {
                return Err(self.error(
                    ErrorKind::Malformed,
                    pc,
                    Some(st),
                    &[],
                    "lddw of a kernel variable by BTF id is not supported",
                    None,
                ));
            }
        })
    }
}
