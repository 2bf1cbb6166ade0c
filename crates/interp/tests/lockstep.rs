//! Lockstep: the fast interpreter against the reference interpreter.
//!
//! Random valid programs (fixed seed) run on both engines; the return value
//! or trap (with its slot), the remaining budget and the final input memory
//! must be identical. Each program runs in checked mode with the default
//! budget, again with a budget cut somewhere inside its run, and, when the
//! checked run completed, in verified mode.
//!
//! Generated programs cover every instruction form (checked by counting),
//! have loops bounded by construction, and touch memory inside and outside
//! the regions. A divergence panics with a reproducer: the program as
//! assembly text, the input memory and the budget.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use oxbpf_interp::{FastInterpreter, Interpreter};
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
    disasm::disassemble,
};
use oxbpf_runtime::{
    Engine, Program, RegionKind, RunState, SafetyMode, Trapped, helpers::conformance,
};

const SEED: u64 = 0x0bf5_2024_1ab5_eed5;
const PROGRAMS: usize = 20_000;
const MEM_LEN: usize = 64;

/// xorshift64*: small, deterministic, good enough to spread choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn imm(&mut self) -> i32 {
        const INTERESTING: [i32; 16] = [
            0,
            1,
            -1,
            2,
            7,
            31,
            32,
            63,
            64,
            i32::MIN,
            i32::MAX,
            0x7f,
            0x80,
            0xff,
            0xffff,
            -0x8000,
        ];
        if self.chance(60) {
            self.pick(&INTERESTING)
        } else {
            self.next() as i32
        }
    }

    fn imm64(&mut self) -> u64 {
        const INTERESTING: [u64; 8] = [
            0,
            1,
            u64::MAX,
            1 << 63,
            0xffff_ffff,
            0x8000_0000,
            0x1_0000_0000,
            0xffff_ffff_8000_0000,
        ];
        if self.chance(50) {
            self.pick(&INTERESTING)
        } else {
            self.next()
        }
    }
}

const R: [Reg; 11] = [
    Reg::R0,
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
    Reg::R7,
    Reg::R8,
    Reg::R9,
    Reg::R10,
];

/// Which registers an instruction may write and read as data. Main code:
/// r1 and r9 hold the input address and r10 the frame, so they are never
/// written; r6 is the loop counter inside a loop. A local function writes
/// only r0 and r2-r5 (r6-r9 are unwritten at its entry, so it cannot read
/// them either). Addresses serve only as memory bases and never flow into
/// data: the two engines run with stacks at different host addresses, so
/// a value computed from an address would differ for no fault.
#[derive(Clone, Copy)]
struct Regs {
    dst: &'static [usize],
    src: &'static [usize],
}

const MAIN: Regs = Regs {
    dst: &[0, 2, 3, 4, 5, 6, 7, 8],
    src: &[0, 2, 3, 4, 5, 6, 7, 8],
};
const IN_LOOP: Regs = Regs {
    dst: &[0, 2, 3, 4, 5, 7, 8],
    src: &[0, 2, 3, 4, 5, 6, 7, 8],
};
const CALLEE: Regs = Regs {
    dst: &[0, 2, 3, 4, 5],
    src: &[0, 2, 3, 4, 5],
};

const ALU_OPS: [AluOp; 18] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Neg,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::MovSx8,
    AluOp::MovSx16,
    AluOp::MovSx32,
    AluOp::Arsh,
];
const CONDS: [JmpCond; 11] = [
    JmpCond::Eq,
    JmpCond::Gt,
    JmpCond::Ge,
    JmpCond::Set,
    JmpCond::Ne,
    JmpCond::Sgt,
    JmpCond::Sge,
    JmpCond::Lt,
    JmpCond::Le,
    JmpCond::Slt,
    JmpCond::Sle,
];
const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];
const ATOMIC_OPS: [AtomicOp; 6] = [
    AtomicOp::Add,
    AtomicOp::Or,
    AtomicOp::And,
    AtomicOp::Xor,
    AtomicOp::Xchg,
    AtomicOp::CmpXchg,
];

fn mov_imm(dst: usize, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: R[dst],
        src: Operand::Imm(imm),
    }
}

fn lddw(dst: usize, v: u64) -> [Insn; 2] {
    [
        Insn::Lddw {
            dst: R[dst],
            src: LddwSrc::Imm,
            imm: v,
        },
        Insn::LddwHi,
    ]
}

/// A memory base and an offset: mostly inside the input memory or the
/// current stack frame, sometimes just outside.
fn address(rng: &mut Rng, size: Size, callee: bool) -> (Reg, i16) {
    let n = size.bytes() as i64;
    let aligned = rng.chance(80);
    let (base, lo, hi) = if rng.chance(50) {
        // Input memory [r1, r1 + 64); out of bounds on either side 10%.
        if rng.chance(90) {
            (Reg::R1, 0, MEM_LEN as i64 - n)
        } else {
            (Reg::R1, -8, MEM_LEN as i64 + 4)
        }
    } else if rng.chance(95) {
        (Reg::R10, -512, -n)
    } else {
        // Past the top of the stack, which only a callee's frame has above.
        (Reg::R10, -4, if callee { 16 } else { 8 })
    };
    let mut off = rng.range(lo, hi);
    if aligned {
        off -= off.rem_euclid(n);
    }
    (base, off as i16)
}

/// One instruction without control flow.
fn plain(rng: &mut Rng, regs: Regs, callee: bool, out: &mut Vec<Insn>) {
    let dst = rng.pick(regs.dst);
    let src = rng.pick(regs.src);
    match rng.below(100) {
        0..=54 => {
            let width = if rng.chance(50) {
                Width::W64
            } else {
                Width::W32
            };
            let mut op = rng.pick(&ALU_OPS);
            if op == AluOp::MovSx32 && width == Width::W32 {
                op = AluOp::MovSx16;
            }
            let src = match op {
                AluOp::Neg => Operand::Imm(0),
                AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => Operand::Reg(R[src]),
                _ if rng.chance(50) => Operand::Reg(R[src]),
                _ => Operand::Imm(rng.imm()),
            };
            out.push(Insn::Alu {
                width,
                op,
                dst: R[dst],
                src,
            });
        }
        55..=59 => {
            let kind = rng.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]);
            let bits = rng.pick(&[16, 32, 64]);
            out.push(Insn::End {
                kind,
                bits,
                dst: R[dst],
            });
        }
        60..=72 => {
            let size = rng.pick(&SIZES);
            let (base, off) = address(rng, size, callee);
            out.push(Insn::Load {
                size,
                signed: size != Size::DW && rng.chance(40),
                dst: R[dst],
                src: base,
                off,
            });
        }
        73..=85 => {
            let size = rng.pick(&SIZES);
            let (base, off) = address(rng, size, callee);
            let src = if rng.chance(50) {
                Operand::Imm(rng.imm())
            } else {
                Operand::Reg(R[src])
            };
            out.push(Insn::Store {
                size,
                dst: base,
                off,
                src,
            });
        }
        86..=94 => {
            let size = rng.pick(&[Size::W, Size::DW]);
            let op = rng.pick(&ATOMIC_OPS);
            let fetch = matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) || rng.chance(50);
            let (base, off) = address(rng, size, callee);
            // A fetch writes `src`: only registers the code may write.
            let src = if fetch { dst } else { src };
            out.push(Insn::Atomic {
                size,
                op,
                fetch,
                dst: base,
                src: R[src],
                off,
            });
        }
        _ => {
            let v = rng.imm64();
            out.extend(lddw(dst, v));
        }
    }
}

/// Re-establishes main's invariants after a call clobbered r1-r5.
fn after_call(rng: &mut Rng, out: &mut Vec<Insn>) {
    out.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R1,
        src: Operand::Reg(Reg::R9),
    });
    for r in 2..=5 {
        let v = rng.imm64();
        out.extend(lddw(r, v));
    }
}

/// Arguments for helper `id`: pointers into the input memory (possibly
/// running past it), values that make `unwind` end the program. Helpers
/// that compute with a value never see an address.
fn helper_args(rng: &mut Rng, id: i64, out: &mut Vec<Insn>) {
    let ptr = |rng: &mut Rng, reg: usize, out: &mut Vec<Insn>| {
        out.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: R[reg],
            src: Operand::Reg(Reg::R9),
        });
        out.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: R[reg],
            src: Operand::Imm(rng.range(0, MEM_LEN as i64 + 2) as i32),
        });
    };
    match id {
        1 => {
            ptr(rng, 1, out);
            out.push(mov_imm(2, rng.range(0, 24) as i32));
        }
        // r1 holds the input address, which must not reach a result.
        0 | 3 => {
            let v = rng.imm64();
            out.extend(lddw(1, v));
        }
        4 => {
            ptr(rng, 1, out);
            ptr(rng, 2, out);
        }
        5 => out.push(mov_imm(1, rng.pick(&[0, 1, -1]))),
        _ => {}
    }
}

/// An item of main's body: instructions, and for a forward jump the
/// number of following items it skips.
struct Item {
    insns: Vec<Insn>,
    skip: Option<usize>,
}

struct Generated {
    insns: Vec<Insn>,
    mem: Vec<u8>,
}

fn generate(rng: &mut Rng) -> Generated {
    let callees = rng.below(3) as usize;
    let mut items: Vec<Item> = Vec::new();
    let mut prologue = vec![Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R9,
        src: Operand::Reg(Reg::R1),
    }];
    for r in [0, 2, 3, 4, 5, 6, 7, 8] {
        let v = rng.imm64();
        prologue.extend(lddw(r, v));
    }
    items.push(Item {
        insns: prologue,
        skip: None,
    });
    // Local calls are patched once the callees' slots are known.
    let mut local_calls: Vec<(usize, usize, usize)> = Vec::new(); // (item, index, callee)

    let n_items = rng.range(3, 30) as usize;
    for _ in 0..n_items {
        let mut insns = Vec::new();
        let mut skip = None;
        match rng.below(100) {
            0..=59 => plain(rng, MAIN, false, &mut insns),
            60..=71 => {
                // Forward conditional jump (or ja) over 0-3 items.
                let width = if rng.chance(50) {
                    Width::W64
                } else {
                    Width::W32
                };
                let src = if rng.chance(50) {
                    Operand::Reg(R[rng.pick(MAIN.src)])
                } else {
                    Operand::Imm(rng.imm())
                };
                insns.push(if rng.chance(10) {
                    Insn::Ja {
                        off: 0,
                        wide: rng.chance(50),
                    }
                } else {
                    Insn::Jmp {
                        width,
                        cond: rng.pick(&CONDS),
                        dst: R[rng.pick(MAIN.src)],
                        src,
                        off: 0,
                    }
                });
                skip = Some(rng.below(4) as usize);
            }
            72..=81 => {
                // A loop run 1-4 times over 1-6 plain instructions:
                // mov32 r6, n; body; sub r6, 1; jne r6, 0, back to body.
                insns.push(Insn::Alu {
                    width: Width::W32,
                    op: AluOp::Mov,
                    dst: Reg::R6,
                    src: Operand::Imm(rng.range(1, 4) as i32),
                });
                let body_start = insns.len();
                for _ in 0..rng.range(1, 6) {
                    plain(rng, IN_LOOP, false, &mut insns);
                }
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Sub,
                    dst: Reg::R6,
                    src: Operand::Imm(1),
                });
                let here = insns.len() as i64;
                insns.push(Insn::Jmp {
                    width: Width::W64,
                    cond: JmpCond::Ne,
                    dst: Reg::R6,
                    src: Operand::Imm(0),
                    off: (body_start as i64 - (here + 1)) as i16,
                });
            }
            82..=91 => {
                // Helper call by id, or callx with an id that may be bad.
                let id = rng.range(0, 5);
                helper_args(rng, id, &mut insns);
                if rng.chance(25) {
                    let reg = rng.pick(&[3usize, 4, 5]);
                    let target = if rng.chance(20) { rng.range(6, 9) } else { id };
                    insns.push(mov_imm(reg, target as i32));
                    insns.push(Insn::Call(CallTarget::Reg(R[reg])));
                } else {
                    insns.push(Insn::Call(CallTarget::Helper(id as i32)));
                }
                after_call(rng, &mut insns);
            }
            _ if callees > 0 => {
                local_calls.push((items.len(), 0, rng.below(callees as u64) as usize));
                insns.push(Insn::Call(CallTarget::Local(0)));
                after_call(rng, &mut insns);
            }
            _ => plain(rng, MAIN, false, &mut insns),
        }
        items.push(Item { insns, skip });
    }
    items.push(Item {
        insns: vec![Insn::Exit],
        skip: None,
    });

    // Lay out main and resolve forward jumps to item starts.
    let mut starts = Vec::with_capacity(items.len());
    let mut insns: Vec<Insn> = Vec::new();
    for item in &items {
        starts.push(insns.len());
        insns.extend(&item.insns);
    }
    for (i, item) in items.iter().enumerate() {
        if let Some(skip) = item.skip {
            let pc = starts[i];
            let target = starts[(i + 1 + skip).min(items.len() - 1)];
            let off = (target - (pc + 1)) as i64;
            insns[pc] = match insns[pc] {
                Insn::Ja { wide, .. } => Insn::Ja {
                    off: off as i32,
                    wide,
                },
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    ..
                } => Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off: off as i16,
                },
                other => other,
            };
        }
    }

    // Callees: r0 from the arguments, then plain code, then exit. They
    // may also clobber r6-r9, which the caller must get back.
    let mut callee_starts = Vec::new();
    for _ in 0..callees {
        callee_starts.push(insns.len());
        insns.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R2),
        });
        for r in 6..=9 {
            insns.push(mov_imm(r, rng.imm()));
        }
        for _ in 0..rng.range(1, 8) {
            plain(rng, CALLEE, true, &mut insns);
        }
        insns.push(Insn::Exit);
    }
    for (item, _, callee) in local_calls {
        // The call is the last instruction before after_call's 9 slots.
        let end = starts[item] + items[item].insns.len();
        let pc = end - 10;
        debug_assert!(matches!(insns[pc], Insn::Call(CallTarget::Local(_))));
        let off = callee_starts[callee] as i64 - (pc as i64 + 1);
        insns[pc] = Insn::Call(CallTarget::Local(off as i32));
    }

    let mut mem = vec![0u8; MEM_LEN];
    for b in mem.iter_mut() {
        // Some zero bytes so that strcmp finds terminators.
        *b = if rng.chance(15) { 0 } else { rng.next() as u8 };
    }
    Generated { insns, mem }
}

/// What a run leaves behind.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    result: Result<u64, Trapped>,
    budget_left: u64,
    mem: Vec<u8>,
}

fn execute(engine: &dyn Engine, program: &Program, mem: &[u8], budget: u64) -> Outcome {
    let exe = engine.load(program).expect("engines load every program");
    let mut mem = mem.to_vec();
    let result;
    let budget_left;
    {
        let mut state = RunState::new();
        state.budget = budget;
        let addr = state.add_memory(&mut mem, RegionKind::Input);
        result = exe.run(&mut state, [addr, MEM_LEN as u64, 0, 0, 0]);
        budget_left = state.budget;
    }
    Outcome {
        result,
        budget_left,
        mem,
    }
}

fn kind(insn: &Insn) -> String {
    match *insn {
        Insn::Alu { width, op, src, .. } => {
            let s = if matches!(src, Operand::Reg(_)) {
                "x"
            } else {
                "k"
            };
            format!("alu{width:?}.{op:?}.{s}")
        }
        Insn::End { kind, bits, .. } => format!("end.{kind:?}{bits}"),
        Insn::Ja { wide, .. } => format!("ja.{wide}"),
        Insn::Jmp {
            width, cond, src, ..
        } => {
            let s = if matches!(src, Operand::Reg(_)) {
                "x"
            } else {
                "k"
            };
            format!("jmp{width:?}.{cond:?}.{s}")
        }
        Insn::Call(CallTarget::Helper(id)) => format!("call.{id}"),
        Insn::Call(CallTarget::Local(_)) => "call.local".into(),
        Insn::Call(CallTarget::Reg(_)) => "callx".into(),
        Insn::Call(CallTarget::Kfunc(_)) => "kfunc".into(),
        Insn::Exit => "exit".into(),
        Insn::Load { size, signed, .. } => format!("ldx{size:?}.{signed}"),
        Insn::Store { size, src, .. } => {
            let s = if matches!(src, Operand::Reg(_)) {
                "x"
            } else {
                "k"
            };
            format!("st{size:?}.{s}")
        }
        Insn::Atomic {
            size, op, fetch, ..
        } => format!("atomic{size:?}.{op:?}.{fetch}"),
        Insn::Lddw { .. } => "lddw".into(),
        Insn::LddwHi => "lddw.hi".into(),
        Insn::LdPacket { .. } => "ldpacket".into(),
    }
}

/// Every instruction form the generator must produce.
fn expected_kinds() -> Vec<String> {
    let mut v = Vec::new();
    for width in [Width::W64, Width::W32] {
        for op in ALU_OPS {
            let forms: &[&str] = match op {
                AluOp::Neg => &["k"],
                AluOp::MovSx32 if width == Width::W32 => &[],
                AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => &["x"],
                _ => &["x", "k"],
            };
            for s in forms {
                v.push(format!("alu{width:?}.{op:?}.{s}"));
            }
        }
        for cond in CONDS {
            for s in ["x", "k"] {
                v.push(format!("jmp{width:?}.{cond:?}.{s}"));
            }
        }
    }
    for kind in [Endian::ToLe, Endian::ToBe, Endian::Swap] {
        for bits in [16, 32, 64] {
            v.push(format!("end.{kind:?}{bits}"));
        }
    }
    for size in SIZES {
        v.push(format!("ldx{size:?}.false"));
        if size != Size::DW {
            v.push(format!("ldx{size:?}.true"));
        }
        v.push(format!("st{size:?}.x"));
        v.push(format!("st{size:?}.k"));
    }
    for size in [Size::W, Size::DW] {
        for op in ATOMIC_OPS {
            v.push(format!("atomic{size:?}.{op:?}.true"));
            if !matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) {
                v.push(format!("atomic{size:?}.{op:?}.false"));
            }
        }
    }
    for id in 0..=5 {
        v.push(format!("call.{id}"));
    }
    v.extend(
        ["ja.true", "ja.false", "call.local", "callx", "exit", "lddw"]
            .into_iter()
            .map(String::from),
    );
    v
}

#[cold]
fn reproducer(n: usize, g: &Generated, what: &str, budget: u64, a: &Outcome, b: &Outcome) -> ! {
    panic!(
        "program {n} (seed {SEED:#x}) diverges in {what} with budget {budget}:\n\
         interp:      {a:?}\n\
         interp-fast: {b:?}\n\
         -- mem\n{}\n-- asm\n{}",
        g.mem
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
        disassemble(&g.insns)
    );
}

#[test]
fn fast_interpreter_matches_the_reference_on_random_programs() {
    let mut rng = Rng(SEED);
    let table = Arc::new(conformance::table());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut touched_memory, mut completed, mut trapped, mut cut) = (0, 0, 0, 0);
    let mut traps: BTreeMap<String, usize> = BTreeMap::new();

    for n in 0..PROGRAMS {
        let g = generate(&mut rng);
        for insn in &g.insns {
            *kinds.entry(kind(insn)).or_default() += 1;
        }
        if g.insns.iter().any(|i| {
            matches!(
                i,
                Insn::Load { .. } | Insn::Store { .. } | Insn::Atomic { .. }
            )
        }) {
            touched_memory += 1;
        }
        let program = Program::checked(g.insns.clone(), table.clone(), &[Reg::R1, Reg::R2])
            .unwrap_or_else(|e| panic!("program {n} is refused: {e}\n{}", disassemble(&g.insns)));

        let budget = oxbpf_abi::limits::DEFAULT_BUDGET;
        let a = execute(&Interpreter, &program, &g.mem, budget);
        let b = execute(&FastInterpreter, &program, &g.mem, budget);
        if a != b {
            reproducer(n, &g, "checked mode", budget, &a, &b);
        }
        match &a.result {
            Ok(_) => completed += 1,
            Err(t) => {
                trapped += 1;
                *traps.entry(format!("{:?}", t.trap)).or_default() += 1;
            }
        }

        // Cut the budget somewhere inside the run.
        let used = budget - a.budget_left;
        if used > 0 {
            let small = rng.below(used);
            let a2 = execute(&Interpreter, &program, &g.mem, small);
            let b2 = execute(&FastInterpreter, &program, &g.mem, small);
            if a2 != b2 {
                reproducer(n, &g, "checked mode, cut budget", small, &a2, &b2);
            }
            // The same blocks are charged in the same order, so one of
            // them no longer fits.
            assert!(
                matches!(
                    a2.result,
                    Err(Trapped {
                        trap: oxbpf_abi::Trap::BudgetExhausted,
                        ..
                    })
                ),
                "program {n}: budget {small} < {used} used did not stop the run"
            );
            cut += 1;
        }

        // A run that completed in checked mode touched only valid memory,
        // and the same inputs take the same path: safe to run unchecked.
        if a.result.is_ok() {
            let verified =
                Program::new_unchecked(g.insns.clone(), table.clone(), SafetyMode::Verified);
            let a3 = execute(&Interpreter, &verified, &g.mem, 0);
            let b3 = execute(&FastInterpreter, &verified, &g.mem, 0);
            if a3 != b3 {
                reproducer(n, &g, "verified mode", 0, &a3, &b3);
            }
            assert_eq!(a3.result, a.result, "program {n}: modes disagree");
            assert_eq!(a3.mem, a.mem, "program {n}: modes disagree on memory");
        }
    }

    eprintln!(
        "{PROGRAMS} programs: {completed} completed, {trapped} trapped {traps:?}, \
         {cut} re-run with a cut budget, {touched_memory} access memory"
    );
    let missing: Vec<String> = expected_kinds()
        .into_iter()
        .filter(|k| kinds.get(k).copied().unwrap_or(0) < 100)
        .collect();
    assert!(
        missing.is_empty(),
        "forms generated fewer than 100 times: {missing:?}"
    );
    assert!(
        touched_memory * 10 >= PROGRAMS * 3,
        "fewer than 30% of programs access memory"
    );
    assert!(
        completed * 10 >= PROGRAMS * 3,
        "fewer than 30% of programs complete"
    );
    for trap in ["OutOfBounds", "HelperFault", "BadCallTarget"] {
        assert!(
            traps.get(trap).copied().unwrap_or(0) >= 100,
            "fewer than 100 {trap} traps"
        );
    }
}

/// Wild programs may write any register, r10 included, but read r10 only
/// as a memory base, and get no memory (r1 = 0): no value computed from a
/// host address, which differs between the engines, can reach a result.
const WILD: Regs = Regs {
    dst: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    src: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
};

/// Any instruction sequence, as `Program::new_unchecked` accepts: jumps
/// and calls anywhere (also outside the program or into an `lddw`),
/// `lddw` halves out of place, unknown helpers, kfuncs, pseudo `lddw`,
/// legacy packet loads, writes to r10, reads of unwritten registers.
fn wild_program(rng: &mut Rng) -> Vec<Insn> {
    let n = rng.range(1, 16);
    let mut insns = Vec::new();
    while (insns.len() as i64) < n {
        let off = rng.range(-n - 2, n + 2);
        match rng.below(20) {
            0..=8 => plain(rng, WILD, false, &mut insns),
            9 => insns.push(Insn::Ja {
                off: off as i32,
                wide: rng.chance(50),
            }),
            10 | 11 => insns.push(Insn::Jmp {
                width: Width::W64,
                cond: rng.pick(&CONDS),
                dst: R[rng.pick(WILD.src)],
                src: Operand::Imm(rng.imm()),
                off: off as i16,
            }),
            12 => insns.push(Insn::Call(CallTarget::Local(off as i32))),
            13 => insns.push(Insn::Call(CallTarget::Helper(rng.range(-1, 7) as i32))),
            14 => {
                let reg = R[rng.pick(WILD.src)];
                let target = rng.pick(&[CallTarget::Reg(reg), CallTarget::Kfunc(1)]);
                insns.push(Insn::Call(target));
            }
            15 | 16 => insns.push(Insn::Exit),
            17 => insns.push(Insn::LddwHi),
            18 => insns.push(Insn::Lddw {
                dst: R[rng.pick(WILD.dst)],
                src: rng.pick(&[LddwSrc::Imm, LddwSrc::MapFd, LddwSrc::Func]),
                imm: rng.imm64(),
            }),
            _ => insns.push(Insn::LdPacket {
                size: Size::W,
                src: None,
                imm: 0,
            }),
        }
    }
    insns
}

#[test]
fn engines_agree_on_programs_that_skipped_the_load_checks() {
    let mut rng = Rng(SEED ^ 0x5eed);
    let table = Arc::new(conformance::table());
    let mut traps: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..20_000 {
        let insns = wild_program(&mut rng);
        let g = Generated {
            insns: insns.clone(),
            mem: Vec::new(),
        };
        let program = Program::new_unchecked(insns, table.clone(), SafetyMode::Checked);
        let budget = 2_000;
        let run = |engine: &dyn Engine| {
            let mut state = RunState::new();
            state.budget = budget;
            let result = engine.load(&program).unwrap().run(&mut state, [0; 5]);
            Outcome {
                result,
                budget_left: state.budget,
                mem: Vec::new(),
            }
        };
        let (a, b) = (run(&Interpreter), run(&FastInterpreter));
        if a != b {
            reproducer(n, &g, "an unchecked program", budget, &a, &b);
        }
        if let Err(t) = a.result {
            *traps.entry(format!("{:?}", t.trap)).or_default() += 1;
        }
    }
    eprintln!("traps: {traps:?}");
    // The point is that the odd paths were taken.
    for trap in [
        "Unsupported",
        "BudgetExhausted",
        "UnknownHelper",
        "CallDepth",
    ] {
        assert!(
            traps.get(trap).copied().unwrap_or(0) >= 50,
            "fewer than 50 {trap} traps"
        );
    }
}
