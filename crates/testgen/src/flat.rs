//! Flat programs: a straight main body of items (plain instructions,
//! forward jumps, counted loops, helper and local calls) and leaf callees,
//! over one input region of [`MEM_LEN`] bytes (the interpreters' lockstep);
//! and "wild" instruction sequences that skip the load checks.

use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width,
};

use crate::Rng;
use crate::tables::{ALU_OPS, ATOMIC_OPS, CONDS, R, SIZES, lddw, mov_imm};

/// Bytes of input memory the programs address through r1.
pub const MEM_LEN: usize = 64;

/// An immediate: an edge value 60% of the time, else random.
pub fn imm(rng: &mut Rng) -> i32 {
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
    if rng.chance(600) {
        rng.pick(&INTERESTING)
    } else {
        rng.next() as i32
    }
}

/// A 64-bit value: an edge value half of the time, else random.
pub fn imm64(rng: &mut Rng) -> u64 {
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
    if rng.chance(500) {
        rng.pick(&INTERESTING)
    } else {
        rng.next()
    }
}

/// Which registers an instruction may write and read as data. Main code:
/// r1 and r9 hold the input address and r10 the frame, so they are never
/// written; r6 is the loop counter inside a loop. A local function writes
/// only r0 and r2-r5 (r6-r9 are unwritten at its entry, so it cannot read
/// them either). Addresses serve only as memory bases and never flow into
/// data: the two engines run with stacks at different host addresses, so
/// a value computed from an address would differ for no fault.
#[derive(Clone, Copy, Debug)]
pub struct Regs {
    /// Registers it may write.
    pub dst: &'static [usize],
    /// Registers it may read as data.
    pub src: &'static [usize],
}

pub const MAIN: Regs = Regs {
    dst: &[0, 2, 3, 4, 5, 6, 7, 8],
    src: &[0, 2, 3, 4, 5, 6, 7, 8],
};
pub const IN_LOOP: Regs = Regs {
    dst: &[0, 2, 3, 4, 5, 7, 8],
    src: &[0, 2, 3, 4, 5, 6, 7, 8],
};
pub const CALLEE: Regs = Regs {
    dst: &[0, 2, 3, 4, 5],
    src: &[0, 2, 3, 4, 5],
};

/// A memory base and an offset: mostly inside the input memory or the
/// current stack frame, sometimes just outside.
fn address(rng: &mut Rng, size: Size, callee: bool) -> (Reg, i16) {
    let n = size.bytes() as i64;
    let aligned = rng.chance(800);
    let (base, lo, hi) = if rng.chance(500) {
        // Input memory [r1, r1 + 64); out of bounds on either side 10%.
        if rng.chance(900) {
            (Reg::R1, 0, MEM_LEN as i64 - n)
        } else {
            (Reg::R1, -8, MEM_LEN as i64 + 4)
        }
    } else if rng.chance(950) {
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
pub fn plain(rng: &mut Rng, regs: Regs, callee: bool, out: &mut Vec<Insn>) {
    let dst = rng.pick(regs.dst);
    let src = rng.pick(regs.src);
    match rng.below(100) {
        0..=54 => {
            let width = if rng.chance(500) {
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
                _ if rng.chance(500) => Operand::Reg(R[src]),
                _ => Operand::Imm(imm(rng)),
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
                signed: size != Size::DW && rng.chance(400),
                dst: R[dst],
                src: base,
                off,
            });
        }
        73..=85 => {
            let size = rng.pick(&SIZES);
            let (base, off) = address(rng, size, callee);
            let src = if rng.chance(500) {
                Operand::Imm(imm(rng))
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
            let fetch = matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) || rng.chance(500);
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
            let v = imm64(rng);
            out.extend(lddw(R[dst], v));
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
    for &r in &R[2..=5] {
        let v = imm64(rng);
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
            out.push(mov_imm(R[2], rng.range(0, 24) as i32));
        }
        // r1 holds the input address, which must not reach a result.
        0 | 3 => {
            let v = imm64(rng);
            out.extend(lddw(R[1], v));
        }
        4 => {
            ptr(rng, 1, out);
            ptr(rng, 2, out);
        }
        5 => out.push(mov_imm(R[1], rng.pick(&[0, 1, -1]))),
        _ => {}
    }
}

/// An item of main's body: instructions, and for a forward jump the
/// number of following items it skips.
struct Item {
    insns: Vec<Insn>,
    skip: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Generated {
    /// The program; passes `Program::checked` with r1 and r2 as inputs.
    pub insns: Vec<Insn>,
    /// The input memory ([`MEM_LEN`] bytes; its address in r1).
    pub mem: Vec<u8>,
}

pub fn generate(rng: &mut Rng) -> Generated {
    let callees = rng.below(3) as usize;
    let mut items: Vec<Item> = Vec::new();
    let mut prologue = vec![Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R9,
        src: Operand::Reg(Reg::R1),
    }];
    for r in [0, 2, 3, 4, 5, 6, 7, 8] {
        let v = imm64(rng);
        prologue.extend(lddw(R[r], v));
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
                let width = if rng.chance(500) {
                    Width::W64
                } else {
                    Width::W32
                };
                let src = if rng.chance(500) {
                    Operand::Reg(R[rng.pick(MAIN.src)])
                } else {
                    Operand::Imm(imm(rng))
                };
                insns.push(if rng.chance(100) {
                    Insn::Ja {
                        off: 0,
                        wide: rng.chance(500),
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
                if rng.chance(250) {
                    let reg = rng.pick(&[3usize, 4, 5]);
                    let target = if rng.chance(200) { rng.range(6, 9) } else { id };
                    insns.push(mov_imm(R[reg], target as i32));
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
        for &r in &R[6..=9] {
            insns.push(mov_imm(r, imm(rng)));
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
        *b = if rng.chance(150) { 0 } else { rng.next() as u8 };
    }
    Generated { insns, mem }
}

/// Wild programs may write any register, r10 included, but read r10 only
/// as a memory base, and get no memory (r1 = 0): no value computed from a
/// host address, which differs between the engines, can reach a result.
pub const WILD: Regs = Regs {
    dst: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    src: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
};

/// Any instruction sequence, as `Program::new_unchecked` accepts: jumps
/// and calls anywhere (also outside the program or into an `lddw`),
/// `lddw` halves out of place, unknown helpers, kfuncs, pseudo `lddw`,
/// legacy packet loads, writes to r10, reads of unwritten registers.
pub fn wild_program(rng: &mut Rng) -> Vec<Insn> {
    let n = rng.range(1, 16);
    let mut insns = Vec::new();
    while (insns.len() as i64) < n {
        let off = rng.range(-n - 2, n + 2);
        match rng.below(20) {
            0..=8 => plain(rng, WILD, false, &mut insns),
            9 => insns.push(Insn::Ja {
                off: off as i32,
                wide: rng.chance(500),
            }),
            10 | 11 => insns.push(Insn::Jmp {
                width: Width::W64,
                cond: rng.pick(&CONDS),
                dst: R[rng.pick(WILD.src)],
                src: Operand::Imm(imm(rng)),
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
                imm: imm64(rng),
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
