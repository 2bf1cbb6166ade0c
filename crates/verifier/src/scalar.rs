//! Scalar abstraction: a tnum plus signed and unsigned 64-bit and 32-bit
//! ranges, kept consistent with each other (the kernel's
//! `reg_bounds_sync`: `__update_reg_bounds`, `__reg_deduce_bounds`,
//! `__reg_bound_offset`), the ALU transfer functions and the refinement a
//! conditional jump gives each side (`reg_set_min_max`).

use oxbpf_isa::{AluOp, JmpCond, Width};

use crate::tnum::Tnum;

/// The set of values a scalar register may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// Known bits.
    pub var: Tnum,
    /// Unsigned 64-bit bounds.
    pub umin: u64,
    pub umax: u64,
    /// Signed 64-bit bounds.
    pub smin: i64,
    pub smax: i64,
    /// Bounds of the low 32 bits, unsigned.
    pub u32min: u32,
    pub u32max: u32,
    /// Bounds of the low 32 bits, signed.
    pub s32min: i32,
    pub s32max: i32,
    /// Copies made by `mov` share a non-zero id, so that a branch on one
    /// refines all (the kernel's `find_equal_scalars`).
    pub id: u32,
}

const SIGN64: u64 = 1 << 63;
const SIGN32: u64 = 1 << 31;
const LOW32: u64 = 0xffff_ffff;

/// Empties the sync cache, so that each verification starts cold (and
/// timings of repeated verifications stay honest).
pub(crate) fn clear_sync_cache() {
    SYNC_CACHE.with(|c| c.iter().for_each(|e| e.set(None)));
}

/// Entries of the per-thread cache of [`Scalar::sync`] results.
const SYNC_CACHE_SLOTS: usize = 256;

type SyncEntry = std::cell::Cell<Option<(Scalar, Scalar)>>;

thread_local! {
    /// Recent (input, result) pairs of [`Scalar::sync`], by a hash of the
    /// input.
    static SYNC_CACHE: [SyncEntry; SYNC_CACHE_SLOTS] =
        const { [const { std::cell::Cell::new(None) }; SYNC_CACHE_SLOTS] };
}

impl Scalar {
    /// Any value.
    pub const UNKNOWN: Scalar = Scalar {
        var: Tnum::UNKNOWN,
        umin: 0,
        umax: u64::MAX,
        smin: i64::MIN,
        smax: i64::MAX,
        u32min: 0,
        u32max: u32::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
        id: 0,
    };

    /// Exactly `v`.
    pub fn constant(v: u64) -> Scalar {
        Scalar {
            var: Tnum::constant(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
            u32min: v as u32,
            u32max: v as u32,
            s32min: v as u32 as i32,
            s32max: v as u32 as i32,
            id: 0,
        }
    }

    /// Any value of `0..=max`.
    pub fn unsigned_upto(max: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umax = max;
        s.sync();
        s
    }

    /// Any value of `min..=max` (unsigned).
    pub fn unsigned_range(min: u64, max: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umin = min;
        s.umax = max;
        s.sync();
        s
    }

    /// Any value whose tnum is `t`.
    pub fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.var = t;
        s.sync();
        s
    }

    /// The value, when known.
    pub fn as_const(&self) -> Option<u64> {
        self.var.is_const().then_some(self.var.value)
    }

    /// Whether `v` is one of the values.
    pub fn contains_value(&self, v: u64) -> bool {
        self.var.contains_value(v)
            && (self.umin..=self.umax).contains(&v)
            && (self.smin..=self.smax).contains(&(v as i64))
            && (self.u32min..=self.u32max).contains(&(v as u32))
            && (self.s32min..=self.s32max).contains(&(v as u32 as i32))
    }

    /// Whether every value of `other` is a value of `self` (pruning).
    pub fn contains(&self, other: &Scalar) -> bool {
        self.var.contains(other.var)
            && self.umin <= other.umin
            && self.umax >= other.umax
            && self.smin <= other.smin
            && self.smax >= other.smax
            && self.u32min <= other.u32min
            && self.u32max >= other.u32max
            && self.s32min <= other.s32min
            && self.s32max >= other.s32max
    }

    /// Whether the constraints contradict each other: no value satisfies
    /// them, so the path that produced them cannot happen.
    pub fn is_empty(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.u32min > self.u32max
            || self.s32min > self.s32max
            || self.var.min() > self.umax
            || self.var.max() < self.umin
    }

    /// Whether zero is excluded.
    pub fn nonzero(&self) -> bool {
        self.umin > 0 || self.var.value != 0 || self.smax < 0
    }

    /// Tightens every bound from the others. Each step intersects with a
    /// fact implied by the current bounds, so no value is ever lost.
    pub fn sync(&mut self) {
        // A known value inside every bound is that value exactly: what the
        // rounds below would conclude.
        if self.var.mask == 0 && self.contains_value(self.var.value) {
            let id = self.id;
            *self = Scalar::constant(self.var.value);
            self.id = id;
            return;
        }
        // The rounds are a pure function of the input, and a program's
        // inputs repeat (any 32-bit result, a byte load, ...): remember
        // recent ones.
        let key = *self;
        let slot = key.cache_slot();
        if let Some((input, output)) = SYNC_CACHE.with(|c| c[slot].get())
            && input == key
        {
            *self = output;
            return;
        }
        self.sync_rounds();
        SYNC_CACHE.with(|c| c[slot].set(Some((key, *self))));
    }

    /// A slot of the sync cache for this value.
    fn cache_slot(&self) -> usize {
        let mut h: u64 = 0;
        for w in [
            self.var.value,
            self.var.mask,
            self.umin,
            self.umax,
            self.smin as u64,
            self.smax as u64,
            u64::from(self.u32min) | u64::from(self.u32max) << 32,
            u64::from(self.s32min as u32) | u64::from(self.s32max as u32) << 32,
            u64::from(self.id),
        ] {
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        (h >> 56) as usize % SYNC_CACHE_SLOTS
    }

    fn sync_rounds(&mut self) {
        for round in 0..2 {
            if self.is_empty() {
                return;
            }
            // A round that changed nothing is a fixed point.
            let before = *self;
            let t = self.var;
            // Bounds from the tnum.
            self.umin = self.umin.max(t.min());
            self.umax = self.umax.min(t.max());
            self.smin = self.smin.max((t.value | (t.mask & SIGN64)) as i64);
            self.smax = self.smax.min((t.value | (t.mask & !SIGN64)) as i64);
            let t32 = t.cast32();
            self.u32min = self.u32min.max(t32.min() as u32);
            self.u32max = self.u32max.min(t32.max() as u32);
            self.s32min = self
                .s32min
                .max((t32.value | (t32.mask & SIGN32)) as u32 as i32);
            self.s32max = self
                .s32max
                .min((t32.value | (t32.mask & !SIGN32 & LOW32)) as u32 as i32);
            // Signed and unsigned 64-bit views agree where the range does
            // not cross the sign boundary.
            if (self.umin as i64) <= (self.umax as i64) {
                self.smin = self.smin.max(self.umin as i64);
                self.smax = self.smax.min(self.umax as i64);
            }
            if self.smin >= 0 || self.smax < 0 {
                self.umin = self.umin.max(self.smin as u64);
                self.umax = self.umax.min(self.smax as u64);
            }
            // 32-bit bounds from 64-bit ones when the upper halves agree.
            if self.umin >> 32 == self.umax >> 32 && self.umin <= self.umax {
                self.u32min = self.u32min.max(self.umin as u32);
                self.u32max = self.u32max.min(self.umax as u32);
            }
            if self.smin >> 32 == self.smax >> 32
                && self.smin <= self.smax
                && (self.smin as i32) <= (self.smax as i32)
            {
                self.s32min = self.s32min.max(self.smin as i32);
                self.s32max = self.s32max.min(self.smax as i32);
            }
            if (self.u32min as i32) <= (self.u32max as i32) {
                self.s32min = self.s32min.max(self.u32min as i32);
                self.s32max = self.s32max.min(self.u32max as i32);
            }
            if self.s32min >= 0 || self.s32max < 0 {
                self.u32min = self.u32min.max(self.s32min as u32);
                self.u32max = self.u32max.min(self.s32max as u32);
            }
            if self.is_empty() {
                return;
            }
            // 64-bit bounds from 32-bit ones when the upper half is known.
            if t.mask >> 32 == 0 {
                let hi = t.value & !LOW32;
                self.umin = self.umin.max(hi | u64::from(self.u32min));
                self.umax = self.umax.min(hi | u64::from(self.u32max));
            }
            if self.is_empty() {
                return;
            }
            // The tnum from the ranges.
            self.var = self.var.intersect(Tnum::range(self.umin, self.umax));
            let r32 = Tnum::range(u64::from(self.u32min), u64::from(self.u32max));
            self.var = self.var.intersect(Tnum {
                value: r32.value,
                mask: r32.mask | !LOW32,
            });
            if round == 0 && *self == before {
                return;
            }
        }
    }

    /// Resets all but the 64-bit view, which must be sound, and resyncs.
    fn derived(var: Tnum, umin: u64, umax: u64, smin: i64, smax: i64) -> Scalar {
        let mut s = Scalar {
            var,
            umin,
            umax,
            smin,
            smax,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// The low 32 bits, zero-extended: the operand of a 32-bit ALU op.
    pub fn low32(&self) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.var = self.var.cast32();
        s.umin = u64::from(self.u32min);
        s.umax = u64::from(self.u32max);
        s.u32min = self.u32min;
        s.u32max = self.u32max;
        s.s32min = self.s32min;
        s.s32max = self.s32max;
        s.sync();
        s
    }

    /// Truncates a result to 32 bits and zero-extends it.
    pub fn zext32(&self) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.var = self.var.cast32();
        if self.umax <= LOW32 && self.umin <= self.umax {
            s.umin = self.umin;
            s.umax = self.umax;
        } else {
            s.umax = LOW32;
        }
        s.sync();
        s
    }

    /// The low `bytes` bytes, zero-extended (a narrow load of a known value).
    pub fn truncate(&self, bytes: usize) -> Scalar {
        if bytes >= 8 {
            let mut s = *self;
            s.id = 0;
            return s;
        }
        let mut s = Scalar::from_tnum(self.var.cast(bytes));
        if self.umax < (1u64 << (bytes * 8)) && self.umin <= self.umax {
            s.umin = s.umin.max(self.umin);
            s.umax = s.umax.min(self.umax);
            s.sync();
        }
        s
    }

    /// Sign-extends the low `bits` bits.
    pub fn sign_extend(&self, bits: u32) -> Scalar {
        if let Some(v) = self.as_const() {
            return Scalar::constant(sext(v, bits));
        }
        let half = 1u64 << (bits - 1);
        if self.umax < half {
            let mut s = *self;
            s.id = 0;
            return s;
        }
        let mut s = Scalar::UNKNOWN;
        s.smin = -(half as i64);
        s.smax = half as i64 - 1;
        s.sync();
        s
    }
}

/// Sign-extends the low `bits` bits of `v`.
pub fn sext(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        return v;
    }
    let shift = 64 - bits;
    (((v << shift) as i64) >> shift) as u64
}

/// Concrete ALU semantics (RFC 9669 §4.1, division and modulo by zero as
/// the kernel does), used to fold constants.
pub fn eval_alu(width: Width, op: AluOp, a: u64, b: u64) -> u64 {
    match width {
        Width::W64 => match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::SDiv => {
                if b == 0 {
                    0
                } else {
                    (a as i64).wrapping_div(b as i64) as u64
                }
            }
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::SMod => {
                if b == 0 {
                    a
                } else {
                    (a as i64).wrapping_rem(b as i64) as u64
                }
            }
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => a << (b & 63),
            AluOp::Rsh => a >> (b & 63),
            AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
            AluOp::Neg => a.wrapping_neg(),
            AluOp::Mov => b,
            AluOp::MovSx8 => sext(b, 8),
            AluOp::MovSx16 => sext(b, 16),
            AluOp::MovSx32 => sext(b, 32),
        },
        Width::W32 => {
            let (x, y) = (a as u32, b as u32);
            let r: u32 = match op {
                AluOp::Add => x.wrapping_add(y),
                AluOp::Sub => x.wrapping_sub(y),
                AluOp::Mul => x.wrapping_mul(y),
                AluOp::Div => x.checked_div(y).unwrap_or(0),
                AluOp::SDiv => {
                    if y == 0 {
                        0
                    } else {
                        (x as i32).wrapping_div(y as i32) as u32
                    }
                }
                AluOp::Mod => x.checked_rem(y).unwrap_or(x),
                AluOp::SMod => {
                    if y == 0 {
                        x
                    } else {
                        (x as i32).wrapping_rem(y as i32) as u32
                    }
                }
                AluOp::Or => x | y,
                AluOp::And => x & y,
                AluOp::Xor => x ^ y,
                AluOp::Lsh => x << (y & 31),
                AluOp::Rsh => x >> (y & 31),
                AluOp::Arsh => ((x as i32) >> (y & 31)) as u32,
                AluOp::Neg => x.wrapping_neg(),
                AluOp::Mov => y,
                AluOp::MovSx8 => sext(u64::from(y), 8) as u32,
                AluOp::MovSx16 => sext(u64::from(y), 16) as u32,
                AluOp::MovSx32 => y,
            };
            u64::from(r)
        }
    }
}

/// The abstract result of `a op b`.
pub fn alu(width: Width, op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Scalar::constant(eval_alu(width, op, x, y));
    }
    match width {
        Width::W64 => alu64(op, a, b),
        Width::W32 => match op {
            AluOp::Arsh => {
                let n = match b.as_const() {
                    Some(n) => (n & 31) as u32,
                    None => return Scalar::unsigned_upto(LOW32),
                };
                let mut s = Scalar::UNKNOWN;
                s.var = a.var.arshift(n, 32);
                s.umax = LOW32;
                s.s32min = a.s32min >> n;
                s.s32max = a.s32max >> n;
                s.sync();
                s
            }
            AluOp::SDiv | AluOp::SMod | AluOp::MovSx8 | AluOp::MovSx16 => {
                Scalar::unsigned_upto(LOW32)
            }
            AluOp::Lsh | AluOp::Rsh => {
                let b = match b.as_const() {
                    Some(n) => Scalar::constant(n & 31),
                    None => return Scalar::unsigned_upto(LOW32),
                };
                alu64(op, &a.low32(), &b).zext32()
            }
            AluOp::MovSx32 => b.low32(),
            _ => alu64(op, &a.low32(), &b.low32()).zext32(),
        },
    }
}

fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let full = (0, u64::MAX, i64::MIN, i64::MAX);
    match op {
        AluOp::Mov => {
            let mut s = *b;
            s.id = 0;
            s
        }
        AluOp::Add => {
            let var = a.var.add(b.var);
            let (umin, umax) = match (a.umin.checked_add(b.umin), a.umax.checked_add(b.umax)) {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (0, u64::MAX),
            };
            let (smin, smax) = match (a.smin.checked_add(b.smin), a.smax.checked_add(b.smax)) {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (i64::MIN, i64::MAX),
            };
            Scalar::derived(var, umin, umax, smin, smax)
        }
        AluOp::Sub => {
            let var = a.var.sub(b.var);
            let (umin, umax) = if a.umin >= b.umax {
                (a.umin - b.umax, a.umax - b.umin)
            } else {
                (0, u64::MAX)
            };
            let (smin, smax) = match (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (i64::MIN, i64::MAX),
            };
            Scalar::derived(var, umin, umax, smin, smax)
        }
        AluOp::Neg => alu64(AluOp::Sub, &Scalar::constant(0), a),
        AluOp::Mul => {
            let var = a.var.mul(b.var);
            let (umin, umax) = match a.umax.checked_mul(b.umax) {
                Some(hi) => (a.umin * b.umin, hi),
                None => (0, u64::MAX),
            };
            Scalar::derived(var, umin, umax, i64::MIN, i64::MAX)
        }
        AluOp::And => {
            let var = a.var.and(b.var);
            let (smin, smax) = if a.smin >= 0 && b.smin >= 0 {
                (0, a.smax.min(b.smax))
            } else {
                (i64::MIN, i64::MAX)
            };
            Scalar::derived(var, var.min(), a.umax.min(b.umax), smin, smax)
        }
        AluOp::Or => {
            let var = a.var.or(b.var);
            Scalar::derived(var, a.umin.max(b.umin), var.max(), i64::MIN, i64::MAX)
        }
        AluOp::Xor => {
            let var = a.var.xor(b.var);
            Scalar::derived(var, var.min(), var.max(), i64::MIN, i64::MAX)
        }
        AluOp::Lsh => match b.as_const() {
            Some(n) => {
                let n = (n & 63) as u32;
                let var = a.var.lshift(n);
                let (umin, umax) = if a.umax.leading_zeros() >= n {
                    (a.umin << n, a.umax << n)
                } else {
                    (0, u64::MAX)
                };
                Scalar::derived(var, umin, umax, i64::MIN, i64::MAX)
            }
            None => Scalar::UNKNOWN,
        },
        AluOp::Rsh => match b.as_const() {
            Some(n) => {
                let n = (n & 63) as u32;
                let var = a.var.rshift(n);
                Scalar::derived(var, a.umin >> n, a.umax >> n, i64::MIN, i64::MAX)
            }
            // Shifting right never grows an unsigned value.
            None if b.umax < 64 => Scalar::derived(
                Tnum::UNKNOWN,
                a.umin >> b.umax,
                a.umax >> b.umin,
                i64::MIN,
                i64::MAX,
            ),
            None => Scalar::unsigned_upto(a.umax),
        },
        AluOp::Arsh => match b.as_const() {
            Some(n) => {
                let n = (n & 63) as u32;
                let var = a.var.arshift(n, 64);
                Scalar::derived(var, 0, u64::MAX, a.smin >> n, a.smax >> n)
            }
            None => Scalar::UNKNOWN,
        },
        AluOp::Div => {
            match a.umax.checked_div(b.umin) {
                Some(hi) => Scalar::derived(Tnum::UNKNOWN, a.umin / b.umax, hi, full.2, full.3),
                // A zero divisor gives 0; any other gives at most `a`.
                None => Scalar::unsigned_upto(a.umax),
            }
        }
        AluOp::Mod => {
            if b.umin > 0 {
                Scalar::unsigned_upto(a.umax.min(b.umax - 1))
            } else {
                // A zero divisor leaves `a` unchanged.
                Scalar::unsigned_upto(a.umax.max(b.umax.saturating_sub(1)).min(a.umax))
            }
        }
        AluOp::SDiv | AluOp::SMod => Scalar::UNKNOWN,
        AluOp::MovSx8 => b.sign_extend(8),
        AluOp::MovSx16 => b.sign_extend(16),
        AluOp::MovSx32 => b.sign_extend(32),
    }
}

/// The condition that holds on the other side of a branch on `cond`.
/// `Set` has no complement among the conditions and returns `None`.
pub fn negate(cond: JmpCond) -> Option<JmpCond> {
    Some(match cond {
        JmpCond::Eq => JmpCond::Ne,
        JmpCond::Ne => JmpCond::Eq,
        JmpCond::Gt => JmpCond::Le,
        JmpCond::Le => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sge,
        JmpCond::Set => return None,
    })
}

/// The condition with its operands swapped (`a < b` is `b > a`).
pub fn swap(cond: JmpCond) -> JmpCond {
    match cond {
        JmpCond::Gt => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Le,
        JmpCond::Le => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sge,
        c => c,
    }
}

/// Refines `a` and `b` under the assumption that `a cond b` holds
/// (`holds = true`) or fails. Returns `None` when the assumption is
/// impossible for the given sets.
pub fn refine(
    width: Width,
    cond: JmpCond,
    holds: bool,
    a: &Scalar,
    b: &Scalar,
) -> Option<(Scalar, Scalar)> {
    let (mut x, mut y) = (*a, *b);
    if width == Width::W32 {
        let signed = matches!(
            cond,
            JmpCond::Sgt | JmpCond::Sge | JmpCond::Slt | JmpCond::Sle
        );
        let (vx, vy) = if signed {
            (signed_view32(a), signed_view32(b))
        } else {
            (a.low32(), b.low32())
        };
        let (rx, ry) = refine(Width::W64, cond, holds, &vx, &vy)?;
        write_back32(&mut x, &rx, signed);
        write_back32(&mut y, &ry, signed);
        return (!x.is_empty() && !y.is_empty()).then_some((x, y));
    }
    let cond = if holds {
        cond
    } else {
        match negate(cond) {
            Some(c) => c,
            None => {
                // !(a & b): with a known b, the bits of b are clear in a.
                if let Some(c) = b.as_const() {
                    if x.var.value & c != 0 {
                        return None;
                    }
                    x.var.mask &= !c;
                    x.sync();
                } else if let Some(c) = a.as_const() {
                    if y.var.value & c != 0 {
                        return None;
                    }
                    y.var.mask &= !c;
                    y.sync();
                }
                return (!x.is_empty() && !y.is_empty()).then_some((x, y));
            }
        }
    };
    match cond {
        JmpCond::Eq => {
            if (x.var.value ^ y.var.value) & !x.var.mask & !y.var.mask != 0 {
                return None;
            }
            let mut m = x;
            m.var = x.var.intersect(y.var);
            m.umin = x.umin.max(y.umin);
            m.umax = x.umax.min(y.umax);
            m.smin = x.smin.max(y.smin);
            m.smax = x.smax.min(y.smax);
            m.u32min = x.u32min.max(y.u32min);
            m.u32max = x.u32max.min(y.u32max);
            m.s32min = x.s32min.max(y.s32min);
            m.s32max = x.s32max.min(y.s32max);
            m.sync();
            let (idx, idy) = (x.id, y.id);
            x = m;
            x.id = idx;
            y = m;
            y.id = idy;
        }
        JmpCond::Ne => {
            if let (Some(p), Some(q)) = (x.as_const(), y.as_const())
                && p == q
            {
                return None;
            }
            if let Some(c) = y.as_const() {
                exclude(&mut x, c);
            }
            if let Some(c) = x.as_const() {
                exclude(&mut y, c);
            }
        }
        JmpCond::Set => {
            if let (Some(p), Some(q)) = (x.as_const(), y.as_const())
                && p & q == 0
            {
                return None;
            }
            if let Some(c) = y.as_const() {
                if x.var.max() & c == 0 {
                    return None;
                }
                if c.is_power_of_two() {
                    x.var.value |= c;
                    x.var.mask &= !c;
                    x.sync();
                }
            }
        }
        JmpCond::Gt => {
            x.umin = x.umin.max(y.umin.checked_add(1)?);
            y.umax = y.umax.min(x.umax.checked_sub(1)?);
        }
        JmpCond::Ge => {
            x.umin = x.umin.max(y.umin);
            y.umax = y.umax.min(x.umax);
        }
        JmpCond::Sgt => {
            x.smin = x.smin.max(y.smin.checked_add(1)?);
            y.smax = y.smax.min(x.smax.checked_sub(1)?);
        }
        JmpCond::Sge => {
            x.smin = x.smin.max(y.smin);
            y.smax = y.smax.min(x.smax);
        }
        JmpCond::Lt | JmpCond::Le | JmpCond::Slt | JmpCond::Sle => {
            let (ry, rx) = refine(width, swap(cond), true, &y, &x)?;
            return Some((rx, ry));
        }
    }
    x.sync();
    y.sync();
    (!x.is_empty() && !y.is_empty()).then_some((x, y))
}

/// Removes `c` from the set where it is an end of a range.
fn exclude(s: &mut Scalar, c: u64) {
    if s.umin == c {
        s.umin = s.umin.wrapping_add(1);
        if s.umin == 0 {
            s.umin = 1;
            s.umax = 0; // was u64::MAX only: now empty
        }
    } else if s.umax == c {
        s.umax = s.umax.wrapping_sub(1);
    }
    if s.smin == c as i64 && s.smin < i64::MAX {
        s.smin += 1;
    } else if s.smax == c as i64 && s.smax > i64::MIN {
        s.smax -= 1;
    }
    s.sync();
}

/// The low 32 bits sign-extended, as a 64-bit scalar: what a signed 32-bit
/// comparison sees.
fn signed_view32(a: &Scalar) -> Scalar {
    let t = a.var.cast32();
    let var = if t.mask & SIGN32 != 0 {
        Tnum {
            value: t.value,
            mask: t.mask | !LOW32,
        }
    } else if t.value & SIGN32 != 0 {
        Tnum {
            value: t.value | !LOW32,
            mask: t.mask,
        }
    } else {
        t
    };
    let mut s = Scalar::UNKNOWN;
    s.var = var;
    s.smin = i64::from(a.s32min);
    s.smax = i64::from(a.s32max);
    s.sync();
    s
}

/// Copies what a 32-bit comparison learned about the low half into `x`.
fn write_back32(x: &mut Scalar, view: &Scalar, signed: bool) {
    if signed {
        x.s32min = x
            .s32min
            .max(view.smin.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        x.s32max = x
            .s32max
            .min(view.smax.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    } else {
        x.u32min = x.u32min.max(view.umin.min(LOW32) as u32);
        x.u32max = x.u32max.min(view.umax.min(LOW32) as u32);
    }
    let low = view.var.cast32();
    if (x.var.value ^ low.value) & LOW32 & !x.var.mask & !low.mask != 0 {
        x.umin = 1;
        x.umax = 0;
        return;
    }
    x.var = x.var.intersect(Tnum {
        value: low.value,
        mask: low.mask | !LOW32,
    });
    x.sync();
}

impl core::fmt::Display for Scalar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(v) = self.as_const() {
            return write!(f, "the constant {}", v as i64);
        }
        write!(f, "a scalar in ")?;
        if self.smin >= 0
            || (self.umin as i64) <= (self.umax as i64) && self.umax <= i64::MAX as u64
        {
            write!(f, "[{}, {}]", self.umin, self.umax)?;
        } else {
            write!(f, "[{}, {}] (signed)", self.smin, self.smax)?;
            if self.umax != u64::MAX || self.umin != 0 {
                write!(f, " and [{}, {}] (unsigned)", self.umin, self.umax)?;
            }
        }
        if !self.var.is_const()
            && self.var.mask != u64::MAX
            && self.var.value | self.var.mask != self.umax
        {
            write!(f, ", known bits {}", self.var)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A scalar built from random constraints that all hold for `x`, and
    /// `x` itself.
    fn member() -> impl Strategy<Value = (Scalar, u64)> {
        prop_oneof![
            any::<u64>(),
            0u64..300,
            Just(u64::MAX),
            (0u64..300).prop_map(|v| v.wrapping_neg()),
            (0u64..300).prop_map(|v| v ^ 0x8000_0000),
            (0u64..300).prop_map(|v| v ^ (1 << 63)),
        ]
        .prop_flat_map(around)
    }

    /// Two members, often close to each other so that comparisons are
    /// decided at the edges.
    fn pair() -> impl Strategy<Value = ((Scalar, u64), (Scalar, u64))> {
        (member(), -3i64..4, any::<bool>()).prop_flat_map(|((a, x), d, near)| {
            let other = if near {
                around(x.wrapping_add(d as u64)).boxed()
            } else {
                member().boxed()
            };
            (Just((a, x)), other)
        })
    }

    fn around(x: u64) -> impl Strategy<Value = (Scalar, u64)> {
        (any::<u64>(), 0u64..1000, 0u64..1000, any::<u8>()).prop_map(
            move |(mask, d1, d2, which)| {
                let (d1, d2) = if which & 64 != 0 {
                    (d1 % 3, d2 % 3)
                } else {
                    (d1, d2)
                };
                let mask = if which & 128 != 0 {
                    mask & (mask >> 5) & (mask >> 11)
                } else {
                    mask
                };
                let mut s = Scalar::UNKNOWN;
                if which & 1 != 0 {
                    s.var = Tnum {
                        value: x & !mask,
                        mask,
                    };
                }
                if which & 2 != 0 {
                    s.umin = x.saturating_sub(d1);
                    s.umax = x.saturating_add(d2);
                }
                if which & 4 != 0 {
                    s.smin = (x as i64).saturating_sub(d1 as i64);
                    s.smax = (x as i64).saturating_add(d2 as i64);
                }
                if which & 8 != 0 {
                    s.u32min = (x as u32).saturating_sub(d1 as u32);
                    s.u32max = (x as u32).saturating_add(d2 as u32);
                }
                if which & 16 != 0 {
                    s.s32min = (x as u32 as i32).saturating_sub(d1 as i32);
                    s.s32max = (x as u32 as i32).saturating_add(d2 as i32);
                }
                if which & 32 != 0 && which & 64 != 0 {
                    s = Scalar::constant(x);
                }
                s.sync();
                (s, x)
            },
        )
    }

    /// Reference semantics written independently of `eval_alu`, for the
    /// operations whose result does not depend on the divisor being zero.
    fn reference(width: Width, op: AluOp, a: u64, b: u64) -> u64 {
        let m = |v: u128| match width {
            Width::W64 => v as u64,
            Width::W32 => v as u64 & 0xffff_ffff,
        };
        let (a, b) = match width {
            Width::W64 => (a, b),
            Width::W32 => (a & 0xffff_ffff, b & 0xffff_ffff),
        };
        let bits = if width == Width::W64 { 64 } else { 32 };
        match op {
            AluOp::Add => m(u128::from(a) + u128::from(b)),
            AluOp::Sub => m(u128::from(a).wrapping_sub(u128::from(b))),
            AluOp::Mul => m(u128::from(a) * u128::from(b)),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::Mod => {
                if b == 0 {
                    a
                } else {
                    a % b
                }
            }
            AluOp::And => a & b,
            AluOp::Or => a | b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => m(u128::from(a) << (b % bits)),
            AluOp::Rsh => a >> (b % bits),
            AluOp::Arsh => {
                let sa = if bits == 32 {
                    i64::from(a as u32 as i32)
                } else {
                    a as i64
                };
                m((sa >> (b % bits)) as u64 as u128)
            }
            AluOp::Neg => m(u128::from(a).wrapping_neg()),
            AluOp::Mov => b,
            _ => unreachable!(),
        }
    }

    const OPS: [AluOp; 13] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Mod,
        AluOp::And,
        AluOp::Or,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
        AluOp::Neg,
        AluOp::Mov,
    ];

    const CONDS: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Ne,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Slt,
        JmpCond::Sle,
        JmpCond::Set,
    ];

    fn holds(width: Width, cond: JmpCond, a: u64, b: u64) -> bool {
        let (ua, ub, sa, sb) = match width {
            Width::W64 => (a, b, a as i64, b as i64),
            Width::W32 => (
                a & 0xffff_ffff,
                b & 0xffff_ffff,
                i64::from(a as u32 as i32),
                i64::from(b as u32 as i32),
            ),
        };
        match cond {
            JmpCond::Eq => ua == ub,
            JmpCond::Ne => ua != ub,
            JmpCond::Gt => ua > ub,
            JmpCond::Ge => ua >= ub,
            JmpCond::Lt => ua < ub,
            JmpCond::Le => ua <= ub,
            JmpCond::Sgt => sa > sb,
            JmpCond::Sge => sa >= sb,
            JmpCond::Slt => sa < sb,
            JmpCond::Sle => sa <= sb,
            JmpCond::Set => ua & ub != 0,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn sync_keeps_members((s, x) in member()) {
            prop_assert!(s.contains_value(x), "{s:?} lost {x:#x}");
        }

        #[test]
        fn alu_contains_concrete_results(
            ((a, x), (b, y)) in pair(),
            op in 0usize..OPS.len(),
            w64 in any::<bool>(),
        ) {
            let op = OPS[op];
            let width = if w64 { Width::W64 } else { Width::W32 };
            // Shifts by registers are masked; the verifier rejects
            // out-of-range immediates separately.
            let r = alu(width, op, &a, &b);
            let want = reference(width, op, x, y);
            prop_assert!(r.contains_value(want), "{op:?} {width:?} {x:#x} {y:#x} -> {want:#x} not in {r:?}\na={a:?}\nb={b:?}");
        }

        #[test]
        fn refine_keeps_the_concrete_pair(
            ((a, x), (b, y)) in pair(),
            cond in 0usize..CONDS.len(),
            w64 in any::<bool>(),
        ) {
            let cond = CONDS[cond];
            let width = if w64 { Width::W64 } else { Width::W32 };
            let truth = holds(width, cond, x, y);
            let r = refine(width, cond, truth, &a, &b);
            prop_assert!(r.is_some(), "{cond:?} {width:?} {truth} judged impossible for {x:#x}, {y:#x}\na={a:?}\nb={b:?}");
            let (ra, rb) = r.unwrap();
            prop_assert!(ra.contains_value(x) && rb.contains_value(y), "{cond:?} {width:?} {truth}: lost {x:#x}/{y:#x}: {ra:?} {rb:?}");
        }
    }

    #[test]
    fn refinement_narrows() {
        let x = Scalar::UNKNOWN;
        let (t, _) = refine(Width::W64, JmpCond::Gt, false, &x, &Scalar::constant(10)).unwrap();
        assert_eq!((t.umin, t.umax), (0, 10));
        let (t, _) = refine(Width::W64, JmpCond::Eq, true, &x, &Scalar::constant(7)).unwrap();
        assert_eq!(t.as_const(), Some(7));
        assert!(
            refine(
                Width::W64,
                JmpCond::Gt,
                true,
                &Scalar::constant(3),
                &Scalar::constant(5)
            )
            .is_none()
        );
        let byte = Scalar::unsigned_upto(255);
        let (t, _) = refine(Width::W32, JmpCond::Slt, true, &byte, &Scalar::constant(16)).unwrap();
        assert_eq!((t.umin, t.umax), (0, 15));
    }
}
