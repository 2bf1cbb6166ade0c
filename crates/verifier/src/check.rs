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
use crate::scalar::{self, Scalar, sext};
use crate::state::{ByteState, Frame, Ptr, PtrKind, RegState, SLOTS, Slot, State, subsumes};
use crate::{Input, InsnFacts, Outcome, Profile, RegType, Stats, VerifiedProgram};

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
}

struct Checker<'a> {
    input: &'a Input<'a>,
    insns: &'a [Insn],
    strict: bool,
    prune_point: Vec<bool>,
    /// Registers live on entry to each slot.
    live: Vec<crate::liveness::RegSet>,
    visited: Vec<Vec<Visited>>,
    /// Stored states whose successors are still being explored: (pc,
    /// index, worklist level when stored).
    in_progress: Vec<(usize, usize, usize)>,
    facts: Vec<InsnFacts>,
    stats: Stats,
    next_id: u32,
    log: Vec<String>,
    warnings: Vec<String>,
}

pub(crate) fn run(input: &Input<'_>) -> Outcome {
    let mut c = Checker {
        input,
        insns: input.insns,
        strict: input.options.profile == Profile::Strict,
        prune_point: vec![false; input.insns.len()],
        live: crate::liveness::live_in(input.insns),
        visited: (0..input.insns.len()).map(|_| Vec::new()).collect(),
        in_progress: Vec::new(),
        facts: vec![InsnFacts::default(); input.insns.len()],
        stats: Stats {
            insns: input.insns.len(),
            ..Stats::default()
        },
        next_id: 1,
        log: Vec::new(),
        warnings: Vec::new(),
    };
    let result = c.cfg().and_then(|()| c.explore());
    let stats = c.stats;
    let log = std::mem::take(&mut c.log);
    let result = result.map(|()| VerifiedProgram {
        insns: input.insns.to_vec(),
        program_type: input.program_type,
        profile: input.options.profile,
        facts: c.facts,
        stats,
        warnings: c.warnings,
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
    /// A store of `value`; `imm` for `st` (immediate) stores.
    Store {
        value: RegState,
        imm: bool,
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
            path: None,
        };
        init.cur_mut().regs[1] = RegState::Ptr(Ptr::new(PtrKind::Ctx));
        let mut work: Vec<(usize, Box<State>)> = vec![(0, Box::new(init))];
        while let Some((mut pc, mut st)) = work.pop() {
            let level = work.len();
            while let Some(&(p, i, l)) = self.in_progress.last() {
                if l > level {
                    self.visited[p][i].done = true;
                    self.in_progress.pop();
                } else {
                    break;
                }
            }
            loop {
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
                match self.step(pc, &mut st)? {
                    Flow::Next(n) => pc = n,
                    Flow::End => break,
                    Flow::Fork { next, other } => {
                        work.push(other);
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
        let rets: Vec<Option<usize>> = st.frames.iter().map(|f| f.ret).collect();
        for (i, f) in st.frames.iter_mut().enumerate() {
            let live = if i + 1 == depth {
                self.live[pc]
            } else {
                match rets[i + 1] {
                    Some(r) if r != CALLBACK_RET => self.live.get(r).copied().unwrap_or(0) & 0x3c0,
                    _ => 0,
                }
            };
            for (r, reg) in f.regs.iter_mut().enumerate().take(10) {
                if live & (1 << r) == 0 && !matches!(reg, RegState::Uninit) {
                    *reg = RegState::Uninit;
                }
            }
        }
    }

    /// Whether a stored state at `pc` covers `st`; stores `st` otherwise.
    fn seen_before(&mut self, pc: usize, st: &State, level: usize) -> R<bool> {
        for v in &self.visited[pc] {
            if v.done {
                // Everything reachable from `v` was explored without error.
                if subsumes(&v.state, st) {
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
        if self.visited[pc].len() < MAX_STORED {
            self.visited[pc].push(Visited {
                state: st.clone(),
                done: false,
            });
            self.in_progress
                .push((pc, self.visited[pc].len() - 1, level));
            self.stats.states += 1;
        }
        Ok(false)
    }

    /// Records facts (and the log line) for an instruction about to run.
    fn note(&mut self, pc: usize, st: &State) {
        let f = &mut self.facts[pc];
        let regs = &st.cur().regs;
        for (i, r) in regs.iter().enumerate() {
            let t = reg_type(r);
            f.entry[i] = if !f.reached || f.entry[i] == t {
                t
            } else {
                RegType::Mixed
            };
        }
        if !f.reached {
            f.divisor_nonzero = true;
        }
        f.reached = true;
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
                let (value, imm) = match src {
                    Operand::Imm(i) => (RegState::Scalar(Scalar::constant(imm64(i))), true),
                    Operand::Reg(r) => (self.read(pc, st, r)?, false),
                };
                self.mem(pc, st, dst, off, size.bytes(), Access::Store { value, imm })?;
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

    // ---------------------------------------------------------------
    // ALU

    fn alu(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    ) -> R<()> {
        if dst == Reg::R10 {
            return self.write(pc, st, dst, RegState::UNKNOWN);
        }
        let b = match src {
            Operand::Imm(i) => RegState::Scalar(Scalar::constant(match width {
                Width::W64 => imm64(i),
                Width::W32 => u64::from(i as u32),
            })),
            Operand::Reg(r) => self.read(pc, st, r)?,
        };
        let src_reg = match src {
            Operand::Reg(r) => Some(r),
            Operand::Imm(_) => None,
        };
        let is_mov = matches!(
            op,
            AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
        );
        if is_mov {
            if let RegState::Stale { .. } = b {
                if op == AluOp::Mov && width == Width::W64 {
                    return self.write(pc, st, dst, b);
                }
                return Err(self.stale(pc, st, src_reg.unwrap_or(dst)));
            }
            let v = match (b, op, width) {
                (RegState::Ptr(_), AluOp::Mov, Width::W64) => b,
                (RegState::Ptr(_), _, _) => {
                    if self.strict {
                        return Err(self.error(
                            ErrorKind::PointerLeak,
                            pc,
                            Some(st),
                            &[src_reg.unwrap_or(dst)],
                            "partial copy of a pointer",
                            None,
                        ));
                    }
                    RegState::UNKNOWN
                }
                (RegState::Scalar(s), AluOp::Mov, Width::W64) => {
                    // Link the copies so a later branch on one refines both.
                    if s.as_const().is_none()
                        && let Some(r) = src_reg
                    {
                        let mut s = s;
                        if s.id == 0 {
                            s.id = self.fresh_id();
                            st.cur_mut().regs[r.index()] = RegState::Scalar(s);
                        }
                        RegState::Scalar(s)
                    } else {
                        RegState::Scalar(s)
                    }
                }
                (RegState::Scalar(s), _, _) => {
                    RegState::Scalar(scalar::alu(width, op, &Scalar::constant(0), &s))
                }
                _ => unreachable!("read returns initialised registers"),
            };
            return self.write(pc, st, dst, v);
        }
        let a = self.read(pc, st, dst)?;
        if let RegState::Stale { .. } = a {
            return Err(self.stale(pc, st, dst));
        }
        if let RegState::Stale { .. } = b {
            return Err(self.stale(pc, st, src_reg.unwrap_or(dst)));
        }
        if matches!(op, AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod) && src_reg.is_some() {
            let nonzero = match (b, width) {
                (RegState::Scalar(s), Width::W64) => s.nonzero(),
                (RegState::Scalar(s), Width::W32) => s.low32().nonzero(),
                _ => false,
            };
            if !nonzero {
                self.facts[pc].divisor_nonzero = false;
            }
        }
        let result = match (a, b) {
            (RegState::Scalar(x), RegState::Scalar(y)) => {
                RegState::Scalar(scalar::alu(width, op, &x, &y))
            }
            (RegState::Ptr(p), RegState::Scalar(s)) => {
                self.ptr_arith(pc, st, width, op, p, s, false, dst)?
            }
            (RegState::Scalar(s), RegState::Ptr(p)) => {
                self.ptr_arith(pc, st, width, op, p, s, true, src_reg.unwrap_or(dst))?
            }
            (RegState::Ptr(p), RegState::Ptr(q)) => {
                // Privileged programs may subtract pointers (`data_end -
                // data`); the difference is an unknown number.
                let _ = (p, q);
                if op == AluOp::Sub && !self.strict {
                    RegState::Scalar(match width {
                        Width::W64 => Scalar::UNKNOWN,
                        Width::W32 => Scalar::unsigned_upto(u64::from(u32::MAX)),
                    })
                } else {
                    return Err(self.error(
                        ErrorKind::PointerArithmetic,
                        pc,
                        Some(st),
                        &[dst, src_reg.unwrap_or(dst)],
                        format!("{} of two pointers is not allowed", op_name(op)),
                        None,
                    ));
                }
            }
            _ => unreachable!("read returns initialised registers"),
        };
        self.write(pc, st, dst, result)
    }

    #[allow(clippy::too_many_arguments)]
    fn ptr_arith(
        &mut self,
        pc: usize,
        st: &State,
        width: Width,
        op: AluOp,
        p: Ptr,
        s: Scalar,
        scalar_is_dst: bool,
        reg: Reg,
    ) -> R<RegState> {
        let fail = |this: &Self, msg: String| {
            Err(this.error(
                ErrorKind::PointerArithmetic,
                pc,
                Some(st),
                &[reg],
                msg,
                None,
            ))
        };
        if op == AluOp::Neg && !self.strict {
            return Ok(RegState::UNKNOWN);
        }
        if width == Width::W32 {
            return fail(self, "32-bit arithmetic on a pointer is not allowed".into());
        }
        if p.maybe_null {
            return fail(
                self,
                "arithmetic on a pointer that may be null; check it against 0 first".into(),
            );
        }
        if matches!(
            p.kind,
            PtrKind::PacketEnd | PtrKind::MapPtr { .. } | PtrKind::Func { .. }
        ) {
            return fail(
                self,
                "arithmetic on this kind of pointer is not allowed".into(),
            );
        }
        let sub = match op {
            AluOp::Add => false,
            AluOp::Sub if !scalar_is_dst => true,
            AluOp::Sub => return fail(self, "subtracting a pointer from a number".into()),
            _ => return fail(self, format!("{} on a pointer is not allowed", op_name(op))),
        };
        let mut q = p;
        if let Some(c) = s.as_const() {
            let c = c as i64;
            let off = if sub {
                p.off.checked_sub(c)
            } else {
                p.off.checked_add(c)
            };
            match off {
                Some(o) if o.abs() < MAX_VAR_OFF => q.off = o,
                _ => {
                    return fail(
                        self,
                        format!("offset {c} takes the pointer out of any object"),
                    );
                }
            }
            return Ok(RegState::Ptr(q));
        }
        if s.smin <= -MAX_VAR_OFF || s.smax >= MAX_VAR_OFF {
            return fail(
                self,
                format!("adding an unbounded number ({s}) to a pointer; bound it first"),
            );
        }
        if self.strict && matches!(p.kind, PtrKind::Stack { .. }) {
            return fail(
                self,
                "variable stack offsets are not allowed unprivileged".into(),
            );
        }
        let mut v = s;
        v.id = 0;
        q.var = scalar::alu(
            Width::W64,
            if sub { AluOp::Sub } else { AluOp::Add },
            &p.var,
            &v,
        );
        if q.var.smin <= -MAX_VAR_OFF || q.var.smax >= MAX_VAR_OFF {
            return fail(self, "the pointer's variable offset grows unbounded".into());
        }
        if q.kind.is_packet() {
            // A new variable offset: no range is proven for it yet.
            q.id = self.fresh_id();
            q.range = 0;
        }
        Ok(RegState::Ptr(q))
    }

    // ---------------------------------------------------------------
    // Branches

    #[allow(clippy::too_many_arguments)]
    fn branch(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        target: usize,
    ) -> R<Flow> {
        let a = self.read(pc, st, dst)?;
        let (b, src_reg) = match src {
            Operand::Imm(i) => (
                RegState::Scalar(Scalar::constant(match width {
                    Width::W64 => imm64(i),
                    Width::W32 => u64::from(i as u32),
                })),
                None,
            ),
            Operand::Reg(r) => (self.read(pc, st, r)?, Some(r)),
        };
        if let RegState::Stale { .. } = a {
            return Err(self.stale(pc, st, dst));
        }
        if let (RegState::Stale { .. }, Some(r)) = (b, src_reg) {
            return Err(self.stale(pc, st, r));
        }
        // Each side: None when impossible, else the refinement to apply.
        let mut taken = st.clone();
        let mut fall = std::mem::replace(
            st,
            State {
                frames: Vec::new(),
                path: None,
            },
        );
        let (t_ok, f_ok) = match (a, b) {
            (RegState::Scalar(x), RegState::Scalar(y)) => {
                let t = scalar::refine(width, cond, true, &x, &y);
                let f = scalar::refine(width, cond, false, &x, &y);
                if let Some((x2, y2)) = t {
                    set_scalar(&mut taken, dst, x2);
                    if let Some(r) = src_reg {
                        set_scalar(&mut taken, r, y2);
                    }
                }
                if let Some((x2, y2)) = f {
                    set_scalar(&mut fall, dst, x2);
                    if let Some(r) = src_reg {
                        set_scalar(&mut fall, r, y2);
                    }
                }
                (t.is_some(), f.is_some())
            }
            (RegState::Ptr(p), RegState::Scalar(s)) | (RegState::Scalar(s), RegState::Ptr(p))
                if s.as_const() == Some(0)
                    && width == Width::W64
                    && matches!(cond, JmpCond::Eq | JmpCond::Ne) =>
            {
                let eq_side_is_taken = cond == JmpCond::Eq;
                if p.maybe_null {
                    let (null_st, ok_st) = if eq_side_is_taken {
                        (&mut taken, &mut fall)
                    } else {
                        (&mut fall, &mut taken)
                    };
                    mark_null(null_st, p.id, true);
                    mark_null(ok_st, p.id, false);
                    (true, true)
                } else {
                    // A valid pointer is never null.
                    (!eq_side_is_taken, eq_side_is_taken)
                }
            }
            (RegState::Ptr(p), RegState::Ptr(q)) => {
                let learned =
                    width == Width::W64 && self.packet_compare(&mut taken, &mut fall, cond, p, q);
                if !learned && self.strict {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(&fall),
                        &[dst, src_reg.unwrap_or(dst)],
                        "comparing these pointers is not allowed unprivileged",
                        None,
                    ));
                }
                (true, true)
            }
            _ => {
                if self.strict {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(&fall),
                        &[dst],
                        "comparing a pointer with a number is not allowed unprivileged",
                        None,
                    ));
                }
                (true, true)
            }
        };
        match (t_ok, f_ok) {
            (true, true) => {
                taken.push_path(pc, true);
                fall.push_path(pc, false);
                *st = fall;
                Ok(Flow::Fork {
                    next: pc + 1,
                    other: (target, Box::new(taken)),
                })
            }
            (true, false) => {
                *st = taken;
                Ok(Flow::Next(target))
            }
            (false, true) => {
                *st = fall;
                Ok(Flow::Next(pc + 1))
            }
            (false, false) => {
                *st = fall;
                Ok(Flow::End)
            }
        }
    }

    /// Learns packet ranges from comparing a packet pointer with the end
    /// of its area (`try_match_pkt_pointers`): `data + X <= data_end`
    /// proves X bytes for every pointer with the same variable offset, and
    /// `meta + X <= data` likewise for metadata. Returns whether the
    /// comparison is one of these shapes.
    fn packet_compare(
        &self,
        taken: &mut State,
        fall: &mut State,
        cond: JmpCond,
        a: Ptr,
        b: Ptr,
    ) -> bool {
        let is_end = |p: &Ptr, e: &Ptr| match p.kind {
            PtrKind::Packet => e.kind == PtrKind::PacketEnd,
            PtrKind::PacketMeta => {
                e.kind == PtrKind::Packet && e.off == 0 && e.fixed() && e.id == 0
            }
            _ => false,
        };
        let (p, cond) = if is_end(&a, &b) {
            (a, cond)
        } else if is_end(&b, &a) {
            (b, scalar::swap(cond))
        } else {
            return a.kind.is_packet() && b.kind.is_packet();
        };
        // Which side knows `p <= end` (X bytes) or `p < end` (X + 1
        // bytes, as the kernel also concludes).
        let side = match cond {
            JmpCond::Gt => Some((false, 0)),
            JmpCond::Ge => Some((false, 1)),
            JmpCond::Lt => Some((true, 1)),
            JmpCond::Le => Some((true, 0)),
            _ => None,
        };
        if let Some((on_taken, extra)) = side
            && p.off >= 0
            && p.var.umax as i64 + p.off <= MAX_PACKET_OFF
            && p.var.umax <= MAX_PACKET_OFF as u64
        {
            let st = if on_taken { taken } else { fall };
            let (kind, id, range) = (p.kind, p.id, p.off + extra);
            st.for_each_reg(|r| {
                if let RegState::Ptr(q) = r
                    && q.kind == kind
                    && q.id == id
                {
                    q.range = q.range.max(range);
                }
            });
        }
        true
    }

    // ---------------------------------------------------------------
    // Calls

    fn exit(&mut self, pc: usize, st: &mut State) -> R<Flow> {
        let r0 = self.read(pc, st, Reg::R0)?;
        if st.frames.len() > 1 {
            if !matches!(r0, RegState::Scalar(_)) {
                return Err(self.error(
                    ErrorKind::PointerLeak,
                    pc,
                    Some(st),
                    &[Reg::R0],
                    "a function must return a number",
                    None,
                ));
            }
            let callee = st.frames.pop().expect("more than one frame");
            let ret = callee.ret.expect("a called frame has a return address");
            if ret == CALLBACK_RET {
                if let RegState::Scalar(s) = r0
                    && s.umax > 1
                {
                    return Err(self.error(
                        ErrorKind::HelperArgument,
                        pc,
                        Some(&State {
                            frames: vec![callee],
                            path: st.path.clone(),
                        }),
                        &[Reg::R0],
                        "a bpf_loop callback must return 0 or 1",
                        None,
                    ));
                }
                return Ok(Flow::End);
            }
            let f = st.cur_mut();
            f.regs[0] = r0;
            for r in 1..=5 {
                f.regs[r] = RegState::Scratched { at: ret - 1 };
            }
            return Ok(Flow::Next(ret));
        }
        match r0 {
            RegState::Ptr(_) | RegState::Stale { .. } if self.strict => {
                return Err(self.error(
                    ErrorKind::PointerLeak,
                    pc,
                    Some(st),
                    &[Reg::R0],
                    "the program returns a pointer",
                    None,
                ));
            }
            RegState::Scalar(s)
                if self.strict && self.input.program_type == ProgramType::Xdp && s.umax > 4 =>
            {
                let w = format!(
                    "insn {pc}: the XDP return value may be {s}, outside the actions 0..=4"
                );
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
            }
            _ => {}
        }
        Ok(Flow::End)
    }

    fn call_helper(&mut self, pc: usize, st: &mut State, id: i32) -> R<Flow> {
        let t = self.input.program_type;
        let Some(spec) = helpers::spec(id) else {
            return Err(self.error(
                ErrorKind::HelperNotAllowed,
                pc,
                Some(st),
                &[],
                format!("unknown helper {id}"),
                None,
            ));
        };
        if !helpers::allowed(spec.allow, t) {
            return Err(self.error(
                ErrorKind::HelperNotAllowed,
                pc,
                Some(st),
                &[],
                format!("helper {} ({id}) is not allowed in {t} programs", spec.name),
                None,
            ));
        }
        let mut map: Option<u32> = None;
        let mut callback: Option<usize> = None;
        let mut ret_size: u32 = 0;
        for (i, arg) in spec.args.iter().enumerate() {
            let r = Reg::new(i as u8 + 1).expect("at most 5 arguments");
            let v = self.read(pc, st, r)?;
            if let RegState::Stale { .. } = v {
                return Err(self.stale(pc, st, r));
            }
            let bad = |this: &Self, what: &str| {
                Err(this.error(
                    ErrorKind::HelperArgument,
                    pc,
                    Some(st),
                    &[r],
                    format!("argument {} of {} must be {what}", i + 1, spec.name),
                    None,
                ))
            };
            match arg {
                Arg::Anything => {
                    if v.is_ptr() && self.strict {
                        return Err(self.error(
                            ErrorKind::PointerLeak,
                            pc,
                            Some(st),
                            &[r],
                            format!("r{} leaks a pointer into helper {}", i + 1, spec.name),
                            None,
                        ));
                    }
                }
                Arg::MapPtr => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::MapPtr { map: m },
                        off: 0,
                        maybe_null: false,
                        ..
                    }) => {
                        self.check_map_compat(pc, st, spec.id, m)?;
                        map = Some(m);
                    }
                    _ => return bad(self, "a map (lddw of a map)"),
                },
                Arg::MapKey | Arg::MapValue => {
                    let Some(m) = map else {
                        return bad(self, "preceded by a map");
                    };
                    let info = &self.input.maps[m as usize];
                    let size = if *arg == Arg::MapKey {
                        info.key_size
                    } else {
                        info.value_size
                    };
                    self.helper_mem(
                        pc,
                        st,
                        r,
                        &v,
                        u64::from(size),
                        u64::from(size),
                        false,
                        spec.name,
                    )?;
                }
                Arg::ReadMem | Arg::WriteMem => {
                    let next = spec.args.get(i + 1);
                    let sr = Reg::new(i as u8 + 2).expect("size follows");
                    let size = match (next, self.read(pc, st, sr)?) {
                        (
                            Some(Arg::SizeOrZero | Arg::Size | Arg::ConstSize),
                            RegState::Scalar(s),
                        ) => s,
                        _ => return bad(self, "followed by a size"),
                    };
                    if size.umax > 1 << 29 || size.smin < 0 {
                        return Err(self.error(
                            ErrorKind::HelperArgument,
                            pc,
                            Some(st),
                            &[sr],
                            format!("the size in r{} for {} is not bounded", i + 2, spec.name),
                            None,
                        ));
                    }
                    let min = if next == Some(&Arg::SizeOrZero) {
                        0
                    } else {
                        size.umin.max(1)
                    };
                    self.helper_mem(
                        pc,
                        st,
                        r,
                        &v,
                        min,
                        size.umax,
                        *arg == Arg::WriteMem,
                        spec.name,
                    )?;
                }
                Arg::SizeOrZero | Arg::Size | Arg::ConstSize => {
                    let RegState::Scalar(s) = v else {
                        return bad(self, "a number");
                    };
                    if *arg == Arg::Size && s.umax == 0 {
                        return bad(self, "a non-zero size");
                    }
                    if *arg == Arg::ConstSize {
                        match s.as_const() {
                            Some(c) if c > 0 && c < 1 << 29 => ret_size = c as u32,
                            _ => return bad(self, "a constant size"),
                        }
                    }
                }
                Arg::Ctx => match v {
                    RegState::Ptr(p) if p.kind == PtrKind::Ctx && p.off == 0 && p.fixed() => {}
                    _ => return bad(self, "the context pointer, unmodified"),
                },
                Arg::Func => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Func { entry },
                        ..
                    }) => callback = Some(entry),
                    _ => return bad(self, "a function address"),
                },
                Arg::RingbufMem => match v {
                    RegState::Ptr(p)
                        if matches!(p.kind, PtrKind::Mem { .. })
                            && !p.maybe_null
                            && p.off == 0
                            && p.fixed() => {}
                    _ => return bad(self, "a ring buffer record (checked against null)"),
                },
            }
        }
        // The callback of bpf_loop runs as a function of its own with the
        // index in r1 and the context argument in r2; its effects are
        // explored as a separate path.
        let mut other = None;
        if let Some(entry) = callback {
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
            let mut cb = st.clone();
            let depth = cb.frames.len() as u8;
            let mut f = Frame::new(depth, entry, Some(CALLBACK_RET));
            f.regs[1] = RegState::Scalar(Scalar::unsigned_upto(u64::from(u32::MAX)));
            f.regs[2] = st.cur().regs[3];
            cb.frames.push(f);
            other = Some((entry, Box::new(cb)));
            // The callback may have written through its context pointer.
            self.clobber_pointee(st, st.cur().regs[3]);
        }
        if spec.moves_packet {
            st.for_each_reg(|r| {
                if let RegState::Ptr(p) = r
                    && p.kind.is_packet()
                {
                    *r = RegState::Stale { at: pc };
                }
            });
        }
        let r0 = match spec.ret {
            Ret::Integer => RegState::UNKNOWN,
            Ret::U32 => RegState::Scalar(Scalar::unsigned_upto(u64::from(u32::MAX))),
            Ret::MapValueOrNull => {
                let m = map.expect("lookup has a map argument");
                let info = &self.input.maps[m as usize];
                let kind = match (info.kind, info.inner) {
                    (MapKind::ArrayOfMaps | MapKind::HashOfMaps, Some(inner)) => {
                        PtrKind::MapPtr { map: inner }
                    }
                    _ => PtrKind::MapValue { map: m },
                };
                let mut p = Ptr::new(kind);
                p.maybe_null = true;
                p.id = self.fresh_id();
                RegState::Ptr(p)
            }
            Ret::RingbufMemOrNull => {
                let mut p = Ptr::new(PtrKind::Mem { size: ret_size });
                p.maybe_null = true;
                p.id = self.fresh_id();
                RegState::Ptr(p)
            }
        };
        let f = st.cur_mut();
        f.regs[0] = r0;
        for r in 1..=5 {
            f.regs[r] = RegState::Scratched { at: pc };
        }
        Ok(match other {
            Some(o) => Flow::Fork {
                next: pc + 1,
                other: o,
            },
            None => Flow::Next(pc + 1),
        })
    }

    /// After a callback that may write through `p`, a stack area it points
    /// into holds unknown values.
    fn clobber_pointee(&self, st: &mut State, p: RegState) {
        if let RegState::Ptr(Ptr {
            kind: PtrKind::Stack { frame },
            ..
        }) = p
            && let Some(f) = st.frames.get_mut(frame as usize)
        {
            for s in f.stack.iter_mut() {
                let keep_uninit =
                    matches!(s, Slot::Bytes(b) if b.iter().all(|x| *x == ByteState::Uninit));
                if !keep_uninit {
                    *s = Slot::Bytes([ByteState::Misc; 8]);
                }
            }
        }
    }

    /// Map kinds a helper accepts (`check_map_func_compatibility`).
    fn check_map_compat(&self, pc: usize, st: &State, helper: u32, m: u32) -> R<()> {
        use helpers::extra_ids as x;
        use oxbpf_abi::helper::kernel as ids;
        let kind = self.input.maps[m as usize].kind;
        let ok = match kind {
            MapKind::ProgArray => helper == ids::TAIL_CALL,
            MapKind::Ringbuf => matches!(
                helper,
                x::RINGBUF_OUTPUT | x::RINGBUF_RESERVE | x::RINGBUF_QUERY
            ),
            MapKind::PerfEventArray => helper == x::PERF_EVENT_OUTPUT,
            MapKind::Devmap | MapKind::DevmapHash | MapKind::Cpumap | MapKind::Xskmap => {
                matches!(helper, ids::REDIRECT_MAP | ids::MAP_LOOKUP_ELEM)
            }
            MapKind::Queue | MapKind::Stack => matches!(
                helper,
                x::MAP_PUSH_ELEM | x::MAP_POP_ELEM | x::MAP_PEEK_ELEM
            ),
            _ => !matches!(
                helper,
                ids::TAIL_CALL
                    | x::RINGBUF_OUTPUT
                    | x::RINGBUF_RESERVE
                    | x::RINGBUF_QUERY
                    | x::PERF_EVENT_OUTPUT
                    | ids::REDIRECT_MAP
                    | x::MAP_PUSH_ELEM
                    | x::MAP_POP_ELEM
                    | x::MAP_PEEK_ELEM
            ),
        };
        if ok {
            Ok(())
        } else {
            let name = helpers::spec(helper as i32).map(|s| s.name).unwrap_or("?");
            Err(self.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[Reg::R1],
                format!("helper {name} cannot be used with a {} map", kind.name()),
                None,
            ))
        }
    }

    /// A memory argument of `min..=max` bytes at `v`.
    #[allow(clippy::too_many_arguments)]
    fn helper_mem(
        &mut self,
        pc: usize,
        st: &mut State,
        r: Reg,
        v: &RegState,
        min: u64,
        max: u64,
        write: bool,
        helper: &str,
    ) -> R<()> {
        let _ = min;
        let bad = |this: &Self, st: &State, what: String| {
            Err(this.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[r],
                format!("r{} passed to {helper}: {what}", r.num()),
                None,
            ))
        };
        let p = match v {
            RegState::Ptr(p) => *p,
            RegState::Scalar(s) if s.as_const() == Some(0) && max == 0 => return Ok(()),
            _ => return bad(self, st, "not a pointer to memory".into()),
        };
        if p.maybe_null {
            return bad(self, st, "the pointer may be null".into());
        }
        if max == 0 {
            return Ok(());
        }
        let max = max as i64;
        let (lo, hi) = (p.off + p.var.smin, p.off + p.var.umax.min(1 << 40) as i64);
        match p.kind {
            PtrKind::Stack { frame } => {
                // Stack offsets are signed: bound them with the signed range.
                let hi = p.off + p.var.smax;
                if lo < -(STACK_PER_FRAME as i64) || hi + max > 0 {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs {max} bytes of stack at offset {lo}..{}, outside the 512-byte frame",
                            hi + max
                        ),
                    );
                }
                let Some(f) = st.frames.get_mut(frame as usize) else {
                    return bad(self, st, "points into a finished frame".into());
                };
                if write {
                    for off in lo..hi + max {
                        set_stack_byte(f, off, ByteState::Misc);
                    }
                } else if self.strict {
                    for off in lo..hi + max {
                        if stack_byte(f, off) == ByteState::Uninit {
                            return Err(self.error(
                                ErrorKind::UninitStack,
                                pc,
                                Some(st),
                                &[r],
                                format!(
                                    "{helper} reads stack byte {off} from r10, which is not initialised"
                                ),
                                None,
                            ));
                        }
                    }
                }
                Ok(())
            }
            PtrKind::Packet | PtrKind::PacketMeta => {
                if p.off < 0 || p.var.smin < 0 || p.off + max > p.range {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs packet bytes {}..{}, but {} are proven",
                            p.off,
                            p.off + max,
                            p.range.max(0)
                        ),
                    );
                }
                Ok(())
            }
            PtrKind::MapValue { map } => {
                let info = &self.input.maps[map as usize];
                if write && info.readonly {
                    return Err(self.error(
                        ErrorKind::ReadonlyWrite,
                        pc,
                        Some(st),
                        &[r],
                        format!("{helper} would write into read-only map {}", info.name),
                        None,
                    ));
                }
                let size = i64::from(info.value_size);
                if lo < 0 || hi + max > size {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs value bytes {lo}..{}, but the value has {size}",
                            hi + max
                        ),
                    );
                }
                Ok(())
            }
            PtrKind::Mem { size } => {
                if lo < 0 || hi + max > i64::from(size) {
                    return bad(
                        self,
                        st,
                        format!("needs bytes {lo}..{} of {size}", hi + max),
                    );
                }
                Ok(())
            }
            _ => bad(self, st, "not a pointer to memory".into()),
        }
    }

    // ---------------------------------------------------------------
    // Memory

    fn mem(
        &mut self,
        pc: usize,
        st: &mut State,
        base: Reg,
        off: i16,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let v = self.read(pc, st, base)?;
        let p = match v {
            RegState::Ptr(p) => p,
            RegState::Stale { .. } => return Err(self.stale(pc, st, base)),
            RegState::Scalar(s) => {
                let what = if s.as_const() == Some(0) {
                    "a null pointer".to_string()
                } else {
                    "a number, not a pointer".to_string()
                };
                return Err(self.error(
                    ErrorKind::NullDeref,
                    pc,
                    Some(st),
                    &[base],
                    format!("dereference of r{}, which is {what}", base.num()),
                    None,
                ));
            }
            _ => unreachable!("read returns initialised registers"),
        };
        if p.maybe_null {
            return Err(self.error(
                ErrorKind::NullDeref,
                pc,
                Some(st),
                &[base],
                format!("r{} may be null", base.num()),
                Some("compare it with 0 before using it".into()),
            ));
        }
        let off = i64::from(off);
        let size_i = size as i64;
        // Pointers stored into memory outside the stack leak addresses.
        if let Access::Store {
            value: RegState::Ptr(_),
            ..
        } = access
            && self.strict
            && !matches!(p.kind, PtrKind::Stack { .. })
        {
            return Err(self.error(
                ErrorKind::PointerLeak,
                pc,
                Some(st),
                &[base],
                "a pointer is stored outside the stack",
                None,
            ));
        }
        let unknown = |size: usize| {
            RegState::Scalar(if size >= 8 {
                Scalar::UNKNOWN
            } else {
                Scalar::unsigned_upto((1u64 << (size * 8)) - 1)
            })
        };
        match p.kind {
            PtrKind::Ctx => self.ctx_access(pc, st, base, p, off, size, access),
            PtrKind::Stack { frame } => {
                self.stack_access(pc, st, base, frame, p, off, size, access)
            }
            PtrKind::Packet | PtrKind::PacketMeta => {
                if matches!(access, Access::Atomic) {
                    return Err(self.error(
                        ErrorKind::PacketOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "atomic operations on packet memory are not allowed",
                        None,
                    ));
                }
                let start = p.off + off;
                if start < 0 || p.var.smin < 0 || start + size_i > p.range {
                    return Err(self.error(
                        ErrorKind::PacketOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "packet access out of bounds",
                        Some(format!(
                            "this access needs bytes {start}..{} from the pointer's base, but {} are proven before data_end",
                            start + size_i,
                            p.range.max(0)
                        )),
                    ));
                }
                Ok(unknown(size))
            }
            PtrKind::PacketEnd => Err(self.error(
                ErrorKind::PacketOutOfBounds,
                pc,
                Some(st),
                &[base],
                "data_end points past the packet and cannot be dereferenced",
                None,
            )),
            PtrKind::MapValue { map } => {
                let info = &self.input.maps[map as usize];
                if access.writes() && info.readonly {
                    return Err(self.error(
                        ErrorKind::ReadonlyWrite,
                        pc,
                        Some(st),
                        &[base],
                        format!("write into read-only map {}", info.name),
                        None,
                    ));
                }
                let vs = i64::from(info.value_size);
                let lo = p.off + off + p.var.smin;
                let hi = p.off + off + p.var.umax.min(1 << 40) as i64 + size_i;
                if lo < 0 || hi > vs || p.var.smin < 0 && !p.fixed() {
                    return Err(self.error(
                        ErrorKind::MapValueOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "map value access out of bounds",
                        Some(format!(
                            "this access may touch bytes {lo}..{hi} of a {vs}-byte value"
                        )),
                    ));
                }
                Ok(unknown(size))
            }
            PtrKind::Mem { size: total } => {
                let lo = p.off + off + p.var.smin;
                let hi = p.off + off + p.var.umax.min(1 << 40) as i64 + size_i;
                if lo < 0 || hi > i64::from(total) {
                    return Err(self.error(
                        ErrorKind::MapValueOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "access outside helper-provided memory",
                        Some(format!("bytes {lo}..{hi} of {total}")),
                    ));
                }
                Ok(unknown(size))
            }
            PtrKind::MapPtr { .. } | PtrKind::Func { .. } => Err(self.error(
                ErrorKind::NullDeref,
                pc,
                Some(st),
                &[base],
                format!("r{} cannot be dereferenced", base.num()),
                None,
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ctx_access(
        &mut self,
        pc: usize,
        st: &State,
        base: Reg,
        p: Ptr,
        off: i64,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let fail = |this: &Self, msg: String| {
            Err(this.error(ErrorKind::CtxAccess, pc, Some(st), &[base], msg, None))
        };
        if p.off != 0 || !p.fixed() {
            return fail(
                self,
                "dereference of a modified context pointer; use the offset in the instruction"
                    .into(),
            );
        }
        match access {
            Access::Atomic => {
                return fail(
                    self,
                    "atomic operations on the context are not allowed".into(),
                );
            }
            Access::Store { imm: true, .. } => {
                return fail(
                    self,
                    "stores of immediates into the context are not allowed".into(),
                );
            }
            _ => {}
        }
        let Some(layout) = layout(self.input.program_type) else {
            // Types without a modelled layout: read-only, aligned, in the
            // first 512 bytes.
            if access.writes() || off < 0 || off + size as i64 > 512 || off % size as i64 != 0 {
                return fail(
                    self,
                    format!(
                        "context access of {size} bytes at offset {off} is not allowed for {} programs",
                        self.input.program_type
                    ),
                );
            }
            return Ok(RegState::UNKNOWN);
        };
        match layout.access(off, size as u8, access.writes()) {
            Err(e) => fail(self, e.to_string()),
            // `xdp_is_valid_access` takes whole 4-byte fields only.
            Ok(a)
                if self.input.program_type == ProgramType::Xdp
                    && usize::from(a.field.size) != size =>
            {
                fail(
                    self,
                    format!(
                        "xdp_md.{} must be accessed whole ({} bytes), not {size}",
                        a.field.name, a.field.size
                    ),
                )
            }
            Ok(a) => Ok(match a.field.kind {
                FieldKind::Scalar => RegState::Scalar(if size >= 8 {
                    Scalar::UNKNOWN
                } else {
                    Scalar::unsigned_upto((1u64 << (size * 8)) - 1)
                }),
                FieldKind::PacketStart => RegState::Ptr(Ptr::new(PtrKind::Packet)),
                FieldKind::PacketEnd => RegState::Ptr(Ptr::new(PtrKind::PacketEnd)),
                FieldKind::PacketMeta => RegState::Ptr(Ptr::new(PtrKind::PacketMeta)),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_access(
        &mut self,
        pc: usize,
        st: &mut State,
        base: Reg,
        frame: u8,
        p: Ptr,
        off: i64,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let size_i = size as i64;
        let start = p.off + off;
        let limit = STACK_PER_FRAME as i64;
        if p.fixed() {
            if start < -limit || start + size_i > 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    "stack access out of bounds",
                    Some(format!(
                        "this access needs bytes {start}..{} from r10; the frame is -512..0",
                        start + size_i
                    )),
                ));
            }
            if start % size_i != 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    format!("misaligned stack access: {size} bytes at offset {start}"),
                    None,
                ));
            }
        } else {
            let lo = start + p.var.smin;
            let hi = start + p.var.smax + size_i;
            if lo < -limit || hi > 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    "variable stack access out of bounds",
                    Some(format!("this access may touch bytes {lo}..{hi} from r10")),
                ));
            }
        }
        let strict = self.strict;
        let Some(f) = st.frames.get_mut(frame as usize) else {
            return Err(self.error(
                ErrorKind::StackOutOfBounds,
                pc,
                Some(st),
                &[base],
                "the pointer refers to the stack of a function that returned",
                None,
            ));
        };
        if !p.fixed() {
            let lo = start + p.var.smin;
            let hi = start + p.var.smax + size_i;
            if access.writes() {
                for o in lo..hi {
                    set_stack_byte(f, o, ByteState::Misc);
                }
                return Ok(RegState::UNKNOWN);
            }
            if strict && (lo..hi).any(|o| stack_byte(f, o) == ByteState::Uninit) {
                return Err(self.error(
                    ErrorKind::UninitStack,
                    pc,
                    Some(st),
                    &[base],
                    "the read may touch uninitialised stack",
                    None,
                ));
            }
            return Ok(RegState::Scalar(Scalar::UNKNOWN.truncate(size)));
        }
        let slot = ((start + limit) / 8) as usize;
        // A spilled pointer is read and overwritten whole only
        // (`check_stack_read_fixed_off`: "invalid size of register fill";
        // unprivileged, "attempt to corrupt spilled pointer").
        let spilled_ptr = matches!(f.stack[slot], Slot::Spill(r) if r.is_ptr() || matches!(r, RegState::Stale { .. }));
        if spilled_ptr && size != 8 {
            let write = access.writes();
            if !write || strict {
                return Err(self.error(
                    if write { ErrorKind::PointerLeak } else { ErrorKind::StackOutOfBounds },
                    pc,
                    Some(st),
                    &[base],
                    format!(
                        "{}-byte {} of a spilled pointer at offset {start}; pointers are spilled and filled whole",
                        size,
                        if write { "overwrite" } else { "read" }
                    ),
                    None,
                ));
            }
        }
        match access {
            Access::Store { value, .. } => {
                if size == 8 {
                    f.stack[slot] = Slot::Spill(value);
                } else {
                    if value.is_ptr() {
                        return Err(self.error(
                            ErrorKind::StackOutOfBounds,
                            pc,
                            Some(st),
                            &[base],
                            format!("a pointer is spilled with a {size}-byte store; spills must be 8 bytes"),
                            None,
                        ));
                    }
                    let b = match value {
                        RegState::Scalar(s) if s.truncate(size).as_const() == Some(0) => {
                            ByteState::Zero
                        }
                        _ => ByteState::Misc,
                    };
                    for o in start..start + size_i {
                        set_stack_byte(f, o, b);
                    }
                }
                Ok(RegState::UNKNOWN)
            }
            Access::Atomic => {
                for o in start..start + size_i {
                    if stack_byte(f, o) == ByteState::Uninit && strict {
                        return Err(self.error(
                            ErrorKind::UninitStack,
                            pc,
                            Some(st),
                            &[base],
                            "atomic operation on uninitialised stack",
                            None,
                        ));
                    }
                }
                for o in start..start + size_i {
                    set_stack_byte(f, o, ByteState::Misc);
                }
                Ok(RegState::UNKNOWN)
            }
            Access::Load => {
                if let Slot::Spill(r) = f.stack[slot] {
                    if size == 8 {
                        return Ok(match r {
                            RegState::Uninit | RegState::Scratched { .. } => RegState::UNKNOWN,
                            other => other,
                        });
                    }
                    if let RegState::Scalar(s) = r {
                        let shift = (start + limit) % 8 * 8;
                        let v = scalar::alu(
                            Width::W64,
                            AluOp::Rsh,
                            &s,
                            &Scalar::constant(shift as u64),
                        );
                        return Ok(RegState::Scalar(v.truncate(size)));
                    }
                    return Ok(RegState::Scalar(Scalar::UNKNOWN.truncate(size)));
                }
                let mut all_zero = true;
                for o in start..start + size_i {
                    match stack_byte(f, o) {
                        ByteState::Uninit => {
                            all_zero = false;
                            if strict {
                                return Err(self.error(
                                    ErrorKind::UninitStack,
                                    pc,
                                    Some(st),
                                    &[base],
                                    format!("read of uninitialised stack at offset {o} from r10"),
                                    None,
                                ));
                            }
                        }
                        ByteState::Misc => all_zero = false,
                        ByteState::Zero => {}
                    }
                }
                Ok(RegState::Scalar(if all_zero {
                    Scalar::constant(0)
                } else {
                    Scalar::UNKNOWN.truncate(size)
                }))
            }
        }
    }
}

/// The byte at `off` from r10 (negative).
fn stack_byte(f: &Frame, off: i64) -> ByteState {
    let i = (off + STACK_PER_FRAME as i64) as usize;
    match &f.stack[i / 8] {
        Slot::Bytes(b) => b[i % 8],
        Slot::Spill(RegState::Uninit | RegState::Scratched { .. }) => ByteState::Uninit,
        Slot::Spill(RegState::Scalar(s)) if s.as_const() == Some(0) => ByteState::Zero,
        Slot::Spill(_) => ByteState::Misc,
    }
}

/// Sets one stack byte, turning a spilled register into bytes.
fn set_stack_byte(f: &mut Frame, off: i64, b: ByteState) {
    let i = (off + STACK_PER_FRAME as i64) as usize;
    if i / 8 >= SLOTS {
        return;
    }
    let slot = &mut f.stack[i / 8];
    if let Slot::Spill(r) = *slot {
        let fill = match r {
            RegState::Uninit | RegState::Scratched { .. } => ByteState::Uninit,
            RegState::Scalar(s) if s.as_const() == Some(0) => ByteState::Zero,
            _ => ByteState::Misc,
        };
        *slot = Slot::Bytes([fill; 8]);
    }
    if let Slot::Bytes(bytes) = slot {
        bytes[i % 8] = b;
    }
}

/// Sets a scalar register after a branch, and every register linked to it
/// by a `mov` (same non-zero id).
fn set_scalar(st: &mut State, r: Reg, s: Scalar) {
    let id = s.id;
    st.cur_mut().regs[r.index()] = RegState::Scalar(s);
    if id != 0 {
        st.for_each_reg(|x| {
            if let RegState::Scalar(y) = x
                && y.id == id
            {
                *y = s;
            }
        });
    }
}

/// After a null check: every copy of the maybe-null pointer `id` becomes
/// the number 0 (`null`) or a valid pointer.
fn mark_null(st: &mut State, id: u32, null: bool) {
    st.for_each_reg(|r| {
        if let RegState::Ptr(p) = r
            && p.maybe_null
            && p.id == id
        {
            if null {
                *r = RegState::Scalar(Scalar::constant(0));
            } else {
                p.maybe_null = false;
                p.id = 0;
            }
        }
    });
}

fn op_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "addition",
        AluOp::Sub => "subtraction",
        AluOp::Mul => "multiplication",
        AluOp::Div | AluOp::SDiv => "division",
        AluOp::Mod | AluOp::SMod => "modulo",
        AluOp::Or => "bitwise or",
        AluOp::And => "bitwise and",
        AluOp::Xor => "bitwise xor",
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => "shift",
        AluOp::Neg => "negation",
        _ => "move",
    }
}

#[allow(dead_code)]
fn sext_imm(i: i32) -> u64 {
    sext(u64::from(i as u32), 32)
}
