//! Structured programs: nested scopes, counted loops, a call DAG with an
//! optional recursive function, two input regions (the JIT's lockstep).
//!
//! Programs pass `Program::checked` (no register is read before it is
//! written) and terminate by construction: jumps go forward, except the
//! back edge of counted loops whose counter nothing else writes; local
//! calls form a DAG, apart from one optionally recursive function whose
//! depth argument counts down (deep enough to hit the call-depth limit
//! sometimes). The budget (usually 5,000) stops anything else.
//!
//! Register roles, fixed so that values stay meaningful:
//!
//! - `r0`..`r5`: random scalars (`r1`..`r5` are re-initialised after every
//!   call, which clobbers them);
//! - `r6`: the writable input, `r7`: the read-only input (host addresses,
//!   equal in both engines' runs since they share the buffers);
//! - `r8`: loop counter (recursion depth in the recursive function);
//! - `r9`: a stack pointer below `r10`.
//!
//! Stack addresses differ between the engines' runs, so values derived from
//! `r9`/`r10` are only ever used as addresses (or helper pointer
//! arguments), never as ALU or comparison operands, stored values or
//! results.

use oxbpf_isa::{AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, Operand, Reg, Size, Width};

use crate::Rng;
use crate::tables::{ALU_OPS, ATOMIC_OPS, CONDS, R, SIZES, alu};

/// A generated test case.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The program; passes `Program::checked` with r1-r3 as inputs.
    pub insns: Vec<Insn>,
    /// The writable input (r1, its length in r2).
    pub input: Vec<u8>,
    /// The read-only input (r3).
    pub ro: Vec<u8>,
    /// The instruction budget to run with.
    pub budget: u64,
}

/// Values that exercise edge cases of arithmetic.
const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    u64::MAX,
    i64::MIN as u64,
    i64::MAX as u64,
    i32::MIN as i64 as u64,
    i32::MAX as u64,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0xff,
    0x80,
    0xffff,
    63,
    64,
];

const INTERESTING_IMM: [i32; 14] = [
    0,
    1,
    -1,
    2,
    i32::MIN,
    i32::MAX,
    0x7f,
    0x80,
    0xff,
    0xffff,
    31,
    32,
    63,
    64,
];

/// A memory base register.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    Input,
    Ro,
    /// `r9 = r10 - r9_below`.
    R9,
    Fp,
}

type Label = usize;

/// Where a not-yet-placed instruction jumps or calls.
enum Fix {
    Jump(Label),
    Call(Label),
}

struct Builder<'r> {
    rng: &'r mut Rng,
    insns: Vec<Insn>,
    fixups: Vec<(usize, Fix)>,
    labels: Vec<Option<usize>>,
    /// Pending forward-jump labels of each open scope, with the number of
    /// statements to emit before placing them.
    scopes: Vec<Vec<(Label, u32)>>,
    input_len: i64,
    ro_len: i64,
    /// Distance of r9 below r10 in the current function.
    r9_below: i64,
    /// Per-mille chance that an access is out of bounds.
    oob: u64,
    /// For verified mode: every access in bounds, the stack limited to the
    /// current frame, helper arguments valid, no r10 writes, at most 8
    /// frames.
    verified: bool,
    /// Whether this program writes r10 (then r10 no longer marks the frame).
    fp_write: bool,
    /// Entry labels of the functions; function 0 is the main program.
    funcs: Vec<Label>,
    /// Index of the recursive function, if any.
    recursive: Option<usize>,
}

/// Generates one program and its inputs; `verified` makes it safe to run
/// without checks (see [`Builder::verified`]).
pub fn generate(rng: &mut Rng, verified: bool) -> Generated {
    let input_len = rng.pick(&[64i64, 96, 128, 256]);
    let ro_len = 64i64;
    let mut input: Vec<u8> = (0..input_len).map(|_| rng.next() as u8).collect();
    let mut ro: Vec<u8> = (0..ro_len).map(|_| rng.next() as u8).collect();
    // NUL bytes now and then, so that strcmp ends.
    for b in input.iter_mut().chain(ro.iter_mut()) {
        if rng.chance(80) {
            *b = 0;
        }
    }
    let budget = if rng.chance(100) {
        rng.range(1, 400) as u64
    } else {
        5000
    };
    let oob = if verified {
        0
    } else {
        rng.pick(&[0, 10, 20, 60])
    };
    // strcmp stops at the region's last byte at the latest.
    if let (Some(a), Some(b)) = (input.last_mut(), ro.last_mut()) {
        *a = 0;
        *b = 0;
    }
    let nfuncs = rng.pick(&[1, 1, 1, 2, 3, 4]);
    let mut b = Builder {
        rng,
        insns: Vec::new(),
        fixups: Vec::new(),
        labels: Vec::new(),
        scopes: Vec::new(),
        input_len,
        ro_len,
        r9_below: 0,
        oob,
        verified,
        fp_write: false,
        funcs: Vec::new(),
        recursive: None,
    };
    b.fp_write = !verified && b.rng.chance(20);
    b.funcs = (0..nfuncs).map(|_| b.new_label()).collect();
    if nfuncs > 1 && b.rng.chance(300) {
        b.recursive = Some(nfuncs - 1);
    }
    for f in 0..nfuncs {
        b.function(f);
    }
    let insns = b.finish();
    Generated {
        insns,
        input,
        ro,
        budget,
    }
}

impl Builder<'_> {
    fn new_label(&mut self) -> Label {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn bind(&mut self, l: Label) {
        self.labels[l] = Some(self.insns.len());
    }

    fn emit(&mut self, i: Insn) {
        self.insns.push(i);
        if matches!(i, Insn::Lddw { .. }) {
            self.insns.push(Insn::LddwHi);
        }
    }

    fn emit_fix(&mut self, i: Insn, fix: Fix) {
        self.fixups.push((self.insns.len(), fix));
        self.emit(i);
    }

    fn finish(mut self) -> Vec<Insn> {
        for (at, fix) in std::mem::take(&mut self.fixups) {
            let (Fix::Jump(l) | Fix::Call(l)) = fix;
            let target = self.labels[l].expect("every label is placed");
            let off = target as i64 - at as i64 - 1;
            match &mut self.insns[at] {
                Insn::Ja { off: o, wide } => {
                    *o = off as i32;
                    if !*wide {
                        assert!(off <= i16::MAX as i64);
                    }
                }
                Insn::Jmp { off: o, .. } => *o = off as i16,
                Insn::Call(CallTarget::Local(o)) => *o = off as i32,
                other => panic!("fixup on {other:?}"),
            }
        }
        self.insns
    }

    /// Places the pending labels of the innermost scope whose countdown
    /// ran out; called between statements only, so no jump lands inside a
    /// statement's sequence.
    fn boundary(&mut self) {
        let here = self.insns.len();
        if let Some(scope) = self.scopes.last_mut() {
            let mut i = 0;
            while i < scope.len() {
                if scope[i].1 == 0 {
                    let (l, _) = scope.swap_remove(i);
                    self.labels[l] = Some(here);
                } else {
                    scope[i].1 -= 1;
                    i += 1;
                }
            }
        }
    }

    fn close_scope(&mut self) {
        let scope = self.scopes.pop().expect("open scope");
        for (l, _) in scope {
            self.bind(l);
        }
    }

    // ------------------------------------------------------------ values

    fn scalar_reg(&mut self) -> Reg {
        // r0-r8: r6/r7 hold input addresses, equal in both runs.
        R[self.rng.below(9) as usize]
    }

    fn dst_reg(&mut self) -> Reg {
        R[self.rng.below(6) as usize]
    }

    fn imm(&mut self) -> i32 {
        match self.rng.below(4) {
            0 => self.rng.pick(&INTERESTING_IMM),
            1 => self.rng.range(-16, 16) as i32,
            _ => self.rng.next() as i32,
        }
    }

    fn value64(&mut self) -> u64 {
        match self.rng.below(3) {
            0 => self.rng.pick(&INTERESTING),
            1 => self.rng.range(-300, 300) as u64,
            _ => self.rng.next(),
        }
    }

    fn set_reg(&mut self, r: Reg, v: u64) {
        if v as i64 >= i32::MIN as i64 && v as i64 <= i32::MAX as i64 {
            self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Imm(v as i32)));
        } else {
            self.emit(Insn::Lddw {
                dst: r,
                src: oxbpf_isa::LddwSrc::Imm,
                imm: v,
            });
        }
    }

    /// Re-initialises r1..r5 after a call clobbered them.
    fn reinit_args(&mut self) {
        for &r in &R[1..=5] {
            match self.rng.below(4) {
                0 => self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Reg(Reg::R6))),
                _ => {
                    let v = self.value64();
                    self.set_reg(r, v);
                }
            }
        }
    }

    // ------------------------------------------------------------ structure

    fn function(&mut self, f: usize) {
        let entry = self.funcs[f];
        self.bind(entry);
        // Prologue: give every register its role.
        if f == 0 {
            // r1 = input, r2 = length, r3 = read-only input.
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R6, Operand::Reg(Reg::R1)));
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R7, Operand::Reg(Reg::R3)));
        } else {
            // Callers pass r1 = input, r2 = read-only input, r3 = depth.
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R6, Operand::Reg(Reg::R1)));
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R7, Operand::Reg(Reg::R2)));
        }
        if self.recursive == Some(f) {
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R8, Operand::Reg(Reg::R3)));
        } else {
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R8, Operand::Imm(0)));
        }
        self.r9_below = 8 * self.rng.range(0, 63);
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R9, Operand::Reg(Reg::R10)));
        self.emit(alu(
            Width::W64,
            AluOp::Add,
            Reg::R9,
            Operand::Imm(-self.r9_below as i32),
        ));
        for r in [0, 1, 2, 3, 4, 5] {
            if f == 0 && r == 2 && self.rng.chance(500) {
                continue; // keep the length
            }
            let v = self.value64();
            self.set_reg(R[r], v);
        }
        self.scopes.push(Vec::new());
        let statements = if f == 0 {
            self.rng.range(5, 60)
        } else {
            self.rng.range(3, 20)
        };
        if self.recursive == Some(f) {
            self.recurse(f);
        }
        for _ in 0..statements {
            self.boundary();
            self.statement(f, false);
        }
        self.close_scope();
        self.emit(Insn::Exit);
    }

    /// In the recursive function: call itself while r8 (the depth left) is
    /// not zero.
    fn recurse(&mut self, f: usize) {
        let skip = self.new_label();
        self.emit_fix(
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R8,
                src: Operand::Imm(0),
                off: 0,
            },
            Fix::Jump(skip),
        );
        // Something in this frame's stack, to see frames kept apart.
        self.emit(Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Reg(Reg::R8),
        });
        self.call_args(f);
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R3, Operand::Reg(Reg::R8)));
        self.emit(alu(Width::W64, AluOp::Sub, Reg::R3, Operand::Imm(1)));
        let l = self.funcs[f];
        self.emit_fix(Insn::Call(CallTarget::Local(0)), Fix::Call(l));
        self.reinit_args();
        self.emit(Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R1,
            src: Reg::R10,
            off: -8,
        });
        self.emit(alu(Width::W64, AluOp::Add, Reg::R0, Operand::Reg(Reg::R1)));
        self.bind(skip);
    }

    /// r1 = input, r2 = read-only input, r3..r5 random, for a local call.
    fn call_args(&mut self, _callee: usize) {
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R1, Operand::Reg(Reg::R6)));
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R2, Operand::Reg(Reg::R7)));
        for &r in &R[3..=5] {
            let v = self.value64();
            self.set_reg(r, v);
        }
    }

    fn statement(&mut self, f: usize, in_loop: bool) {
        let w = self.rng.below(1000);
        match w {
            0..=299 => self.alu_stmt(),
            300..=329 => self.end_stmt(),
            330..=349 => {
                let d = self.dst_reg();
                let v = self.rng.next();
                self.set_reg(d, v);
            }
            350..=489 => self.jump_stmt(),
            490..=509 => self.ja_stmt(),
            510..=629 => self.load_stmt(),
            630..=729 => self.store_stmt(),
            730..=809 => self.atomic_stmt(),
            810..=849 => self.computed_stmt(),
            850..=884 => self.helper_stmt(),
            885..=899 => self.callx_stmt(),
            900..=939 if !in_loop && f + 1 < self.funcs.len() => self.local_call_stmt(f),
            940..=969 if !in_loop => self.loop_stmt(f),
            970..=973 => self.emit(Insn::Exit),
            974..=979 => self.ld_packet_stmt(),
            980..=989 if self.fp_write => {
                // Keep r10 a stack address, just not the frame top.
                if self.rng.chance(500) {
                    self.emit(alu(Width::W64, AluOp::Mov, Reg::R10, Operand::Reg(Reg::R9)));
                } else {
                    let k = self.rng.range(1, 40) as i32;
                    self.emit(alu(Width::W64, AluOp::Add, Reg::R10, Operand::Imm(-8 * k)));
                }
            }
            _ => self.alu_stmt(),
        }
    }

    fn alu_stmt(&mut self) {
        let width = if self.rng.chance(500) {
            Width::W64
        } else {
            Width::W32
        };
        let mut op = self.rng.pick(&ALU_OPS);
        if op == AluOp::MovSx32 && width == Width::W32 {
            op = AluOp::MovSx16;
        }
        let dst = self.dst_reg();
        let src = match op {
            AluOp::Neg => Operand::Imm(0),
            AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => Operand::Reg(self.scalar_reg()),
            _ => {
                if self.rng.chance(500) {
                    Operand::Reg(self.scalar_reg())
                } else {
                    Operand::Imm(self.imm())
                }
            }
        };
        self.emit(alu(width, op, dst, src));
    }

    fn end_stmt(&mut self) {
        let kind = self.rng.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]);
        let bits = self.rng.pick(&[16u8, 32, 64]);
        let dst = self.dst_reg();
        self.emit(Insn::End { kind, bits, dst });
    }

    /// A forward conditional jump to a label placed a few statements later
    /// in the same scope.
    fn forward(&mut self) -> Label {
        let l = self.new_label();
        let n = self.rng.range(0, 6) as u32;
        self.scopes.last_mut().expect("open scope").push((l, n));
        l
    }

    fn jump_stmt(&mut self) {
        let width = if self.rng.chance(500) {
            Width::W64
        } else {
            Width::W32
        };
        let cond = self.rng.pick(&CONDS);
        let dst = self.scalar_reg();
        let src = if self.rng.chance(500) {
            Operand::Reg(self.scalar_reg())
        } else {
            Operand::Imm(self.imm())
        };
        let l = self.forward();
        self.emit_fix(
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off: 0,
            },
            Fix::Jump(l),
        );
    }

    fn ja_stmt(&mut self) {
        let wide = self.rng.chance(400);
        let l = self.forward();
        self.emit_fix(Insn::Ja { off: 0, wide }, Fix::Jump(l));
    }

    /// A counted loop: r8 = K; body; r8 -= 1; if r8 != 0 goto body.
    fn loop_stmt(&mut self, f: usize) {
        if self.recursive == Some(f) {
            // r8 is the recursion depth there.
            return self.alu_stmt();
        }
        let k = self.rng.range(1, 20) as i32;
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R8, Operand::Imm(k)));
        let top = self.new_label();
        self.bind(top);
        self.scopes.push(Vec::new());
        for _ in 0..self.rng.range(1, 10) {
            self.boundary();
            self.statement(f, true);
        }
        self.close_scope();
        self.emit(alu(Width::W64, AluOp::Sub, Reg::R8, Operand::Imm(1)));
        // Variants of "r8 > 0" for the back edge.
        let (width, cond) = self.rng.pick(&[
            (Width::W64, JmpCond::Ne),
            (Width::W64, JmpCond::Gt),
            (Width::W64, JmpCond::Sgt),
            (Width::W32, JmpCond::Ne),
            (Width::W32, JmpCond::Sgt),
            (Width::W64, JmpCond::Set),
        ]);
        self.emit_fix(
            Insn::Jmp {
                width,
                cond,
                dst: Reg::R8,
                src: Operand::Imm(if cond == JmpCond::Set { -1 } else { 0 }),
                off: 0,
            },
            Fix::Jump(top),
        );
    }

    // ------------------------------------------------------------ memory

    /// A base register and an offset for an access of `size` bytes, in
    /// bounds unless the out-of-bounds dice say otherwise. `align` rounds
    /// the offset down to a multiple of the size.
    fn place(&mut self, write: bool, size: i64, align: bool) -> (Reg, i16) {
        let mut base = match self.rng.below(10) {
            0..=3 => Base::Input,
            4..=5 => Base::Fp,
            6..=7 => Base::R9,
            _ => Base::Ro,
        };
        if write && base == Base::Ro && !self.rng.chance(self.oob * 2) {
            base = Base::Input;
        }
        let oob = self.rng.chance(self.oob);
        // Ends of ranges are where checks go wrong: pick them often.
        let edge = self.rng.chance(300);
        // The checked-mode stack (all frames); verified programs stay in
        // their own frame.
        let stack = if self.verified { 512 } else { 16 * 512 };
        let off: i64 = match (base, oob) {
            (Base::Input | Base::Ro, false) => {
                let len = if base == Base::Input {
                    self.input_len
                } else {
                    self.ro_len
                };
                if edge {
                    self.rng.pick(&[0, len - size])
                } else {
                    self.rng.range(0, len - size)
                }
            }
            (Base::Input | Base::Ro, true) => {
                let len = if base == Base::Input {
                    self.input_len
                } else {
                    self.ro_len
                };
                match self.rng.below(5) {
                    // Straddling or just past the end.
                    0 | 1 => len - size + self.rng.range(1, size),
                    // Straddling or just before the start.
                    2 | 3 => -self.rng.range(1, size),
                    _ => self.rng.range(-32768, 32767),
                }
            }
            // Within the current frame, or anywhere in the stack.
            (Base::Fp, false) => match (edge, self.rng.chance(800)) {
                (true, _) => self.rng.pick(&[-size, -512, -stack]),
                (false, true) => -self.rng.range(size, 512),
                (false, false) => -self.rng.range(size, stack),
            },
            // Straddling the top or the bottom of the stack (in the main
            // frame; a callee's "above the top" is its caller's frame).
            (Base::Fp, true) => {
                if self.rng.chance(500) {
                    self.rng.range(1 - size, 8)
                } else {
                    -stack - self.rng.range(1, size)
                }
            }
            (Base::R9, false) => {
                let (lo, hi) = (-(512 - self.r9_below), self.r9_below - size);
                if edge {
                    self.rng.pick(&[lo, hi])
                } else {
                    self.rng.range(lo, hi)
                }
            }
            (Base::R9, true) => self.r9_below - size + self.rng.range(1, 64),
        };
        let off = if align { off & !(size - 1) } else { off };
        let reg = match base {
            Base::Input => Reg::R6,
            Base::Ro => Reg::R7,
            Base::R9 => Reg::R9,
            Base::Fp => Reg::R10,
        };
        (reg, off.clamp(i16::MIN as i64, i16::MAX as i64) as i16)
    }

    fn load_stmt(&mut self) {
        let size = self.rng.pick(&SIZES);
        let signed = size != Size::DW && self.rng.chance(300);
        let (src, off) = self.place(false, size.bytes() as i64, false);
        let dst = self.dst_reg();
        self.emit(Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        });
    }

    fn store_stmt(&mut self) {
        let size = self.rng.pick(&SIZES);
        let (dst, off) = self.place(true, size.bytes() as i64, false);
        let src = if self.rng.chance(500) {
            Operand::Reg(self.scalar_reg())
        } else {
            Operand::Imm(self.imm())
        };
        self.emit(Insn::Store {
            size,
            dst,
            off,
            src,
        });
    }

    fn atomic_stmt(&mut self) {
        let size = self.rng.pick(&[Size::W, Size::DW]);
        let op = self.rng.pick(&ATOMIC_OPS);
        let fetch = matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg) || self.rng.chance(500);
        let (dst, off) = self.place(true, size.bytes() as i64, true);
        // A fetch writes `src`, so it must be a scratch register.
        let src = if fetch && op != AtomicOp::CmpXchg {
            self.dst_reg()
        } else {
            self.scalar_reg()
        };
        if op == AtomicOp::CmpXchg && self.rng.chance(500) {
            // Make the compare succeed (unless the load itself traps).
            self.emit(Insn::Load {
                size,
                signed: false,
                dst: Reg::R0,
                src: dst,
                off,
            });
        }
        self.emit(Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        });
    }

    /// An access at an address computed from data: r5 = r6 + (rX & mask).
    fn computed_stmt(&mut self) {
        let kind = self.rng.below(3);
        let size = if kind == 2 {
            self.rng.pick(&[Size::W, Size::DW])
        } else {
            self.rng.pick(&SIZES)
        };
        let bytes = size.bytes() as i32;
        let x = self.scalar_reg();
        // In bounds unless the dice say otherwise: the mask keeps the
        // index below the input length minus the access size, and aligned.
        let mask = if self.rng.chance(self.oob * 3) {
            0x3ff
        } else {
            31
        };
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R5, Operand::Reg(x)));
        self.emit(alu(
            Width::W64,
            AluOp::And,
            Reg::R5,
            Operand::Imm(mask & !(bytes - 1)),
        ));
        self.emit(alu(Width::W64, AluOp::Add, Reg::R5, Operand::Reg(Reg::R6)));
        match kind {
            0 => {
                let dst = self
                    .rng
                    .pick(&[Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4]);
                self.emit(Insn::Load {
                    size,
                    signed: false,
                    dst,
                    src: Reg::R5,
                    off: 0,
                })
            }
            1 => {
                let src = Operand::Reg(self.scalar_reg());
                self.emit(Insn::Store {
                    size,
                    dst: Reg::R5,
                    off: 0,
                    src,
                })
            }
            _ => {
                let src = self
                    .rng
                    .pick(&[Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4]);
                self.emit(Insn::Atomic {
                    size,
                    op: AtomicOp::Add,
                    fetch: true,
                    dst: Reg::R5,
                    src,
                    off: 0,
                })
            }
        }
    }

    // ------------------------------------------------------------ calls

    /// A pointer argument for a helper: into the input, the read-only
    /// input (unless the helper writes) or the stack; now and then out of
    /// bounds. Verified programs keep all `len` bytes in bounds and pass no
    /// stack strings (nothing NUL-terminates the stack at its top).
    fn pointer_arg(&mut self, r: Reg, len: i64, write: bool) {
        let margin = if self.verified { len.max(1) } else { 1 };
        let pick = match (self.verified, write) {
            (true, true) => self.rng.pick(&[0, 3]),
            (true, false) => self.rng.below(3),
            (false, _) => self.rng.below(4),
        };
        match pick {
            0 | 1 => {
                self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Reg(Reg::R6)));
                let off = self.rng.range(0, self.input_len - margin) as i32;
                self.emit(alu(Width::W64, AluOp::Add, r, Operand::Imm(off)));
            }
            2 => {
                self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Reg(Reg::R7)));
                let off = self.rng.range(0, self.ro_len - margin) as i32;
                self.emit(alu(Width::W64, AluOp::Add, r, Operand::Imm(off)));
            }
            _ => {
                self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Reg(Reg::R10)));
                let off = self.rng.range(-512, -margin) as i32;
                self.emit(alu(Width::W64, AluOp::Add, r, Operand::Imm(off)));
            }
        }
        if self.rng.chance(self.oob) {
            self.emit(alu(Width::W64, AluOp::Add, r, Operand::Imm(100_000)));
        }
    }

    /// Sets up r1..r5 for conformance helper `id`.
    fn helper_args(&mut self, id: i32) {
        match id {
            // memfrob(ptr, len)
            1 => {
                let len = self.rng.range(0, 24);
                self.pointer_arg(Reg::R1, len, true);
                self.emit(alu(
                    Width::W64,
                    AluOp::Mov,
                    Reg::R2,
                    Operand::Imm(len as i32),
                ));
            }
            // strcmp(a, b)
            4 => {
                self.pointer_arg(Reg::R1, 1, false);
                self.pointer_arg(Reg::R2, 1, false);
            }
            // unwind(x): ends the program when x == 0
            5 => {
                let v = if self.rng.chance(300) {
                    0
                } else {
                    self.rng.next() as i32
                };
                self.emit(alu(Width::W64, AluOp::Mov, Reg::R1, Operand::Imm(v)));
            }
            // gather_bytes, no_op, sqrti: scalars already in r1..r5.
            _ => {}
        }
    }

    fn helper_stmt(&mut self) {
        let id = self.rng.range(0, 5) as i32;
        self.helper_args(id);
        self.emit(Insn::Call(CallTarget::Helper(id)));
        self.reinit_args();
    }

    fn callx_stmt(&mut self) {
        // Mostly a real helper id; now and then none (BadCallTarget).
        let id: i64 = if self.rng.chance(850) {
            self.rng.range(0, 5)
        } else {
            self.rng.pick(&[6, 100, -1, 1 << 32])
        };
        if (0..=5).contains(&id) {
            self.helper_args(id as i32);
        }
        let r = self.rng.pick(&[Reg::R0, Reg::R3, Reg::R4, Reg::R5]);
        self.set_reg(r, id as u64);
        self.emit(Insn::Call(CallTarget::Reg(r)));
        self.reinit_args();
    }

    fn local_call_stmt(&mut self, f: usize) {
        let callee = self.rng.range(f as i64 + 1, self.funcs.len() as i64 - 1) as usize;
        self.call_args(callee);
        if self.recursive == Some(callee) {
            // Depth left: up to past the 16-frame limit now and then.
            // Verified programs stay within the kernel's 8 frames: main,
            // up to 3 callers in the DAG, the recursive function and 3 more.
            let d = if self.verified {
                self.rng.range(0, 3)
            } else {
                self.rng.range(0, 18)
            } as i32;
            self.emit(alu(Width::W64, AluOp::Mov, Reg::R3, Operand::Imm(d)));
        }
        let l = self.funcs[callee];
        self.emit_fix(Insn::Call(CallTarget::Local(0)), Fix::Call(l));
        self.reinit_args();
    }

    /// Legacy packet access: traps in this environment, on both engines.
    fn ld_packet_stmt(&mut self) {
        let size = self.rng.pick(&[Size::B, Size::H, Size::W]);
        let src = if self.rng.chance(500) {
            Some(self.scalar_reg())
        } else {
            None
        };
        let imm = self.rng.range(0, 64) as i32;
        self.emit(Insn::LdPacket { size, src, imm });
        // Like a call, legacy packet loads clobber r1..r5 (the kernel's
        // LD_ABS/LD_IND convention, which the load check follows).
        self.reinit_args();
    }
}
