//! Tracked numbers: the bits of a value known to be 0 or 1.
//!
//! A `Tnum { value, mask }` stands for every `x` with `x & !mask == value`:
//! bits set in `mask` are unknown, the others equal `value`'s bits. The
//! operations follow the kernel's `kernel/bpf/tnum.c` (Edward Cree's
//! algorithms), written afresh; each returns a tnum containing every
//! concrete result of the operation applied to members of the operands.

/// Known and unknown bits of a 64-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    /// Known bit values (zero where unknown).
    pub value: u64,
    /// Unknown bits.
    pub mask: u64,
}

#[allow(
    clippy::should_implement_trait,
    reason = "named after the kernel's tnum_add/tnum_sub/tnum_mul; operator traits would hide that they over-approximate"
)]
impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `min..=max`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// Whether the value is fully known.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether `v` is a member.
    pub const fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Whether every member of `other` is a member of `self`.
    pub const fn contains(self, other: Tnum) -> bool {
        other.mask & !self.mask == 0 && other.value & !self.mask == self.value
    }

    /// Smallest member.
    pub const fn min(self) -> u64 {
        self.value
    }

    /// Largest member.
    pub const fn max(self) -> u64 {
        self.value | self.mask
    }

    /// `a + b`.
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// `a - b`.
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// `a & b`.
    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// `a | b`.
    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// `a ^ b`.
    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// `a * b`: shift-and-add over the bits of `a`, as `tnum_mul` does.
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// `a << n` (`n < 64`).
    pub const fn lshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value << n,
            mask: self.mask << n,
        }
    }

    /// Logical `a >> n` (`n < 64`).
    pub const fn rshift(self, n: u32) -> Tnum {
        Tnum {
            value: self.value >> n,
            mask: self.mask >> n,
        }
    }

    /// Arithmetic `a >> n` of the low `bits` (32 or 64) bits; the result is
    /// truncated to `bits`.
    pub fn arshift(self, n: u32, bits: u32) -> Tnum {
        if bits == 32 {
            let v = ((self.value as u32 as i32) >> n) as u32 as u64;
            let m = ((self.mask as u32 as i32) >> n) as u32 as u64;
            Tnum { value: v, mask: m }
        } else {
            Tnum {
                value: ((self.value as i64) >> n) as u64,
                mask: ((self.mask as i64) >> n) as u64,
            }
        }
    }

    /// Intersection of two tnums known to share a member.
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// The low 32 bits, zero-extended.
    pub const fn cast32(self) -> Tnum {
        Tnum {
            value: self.value & 0xffff_ffff,
            mask: self.mask & 0xffff_ffff,
        }
    }

    /// The low `bytes` bytes, zero-extended.
    pub const fn cast(self, bytes: usize) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// Smallest tnum containing both.
    pub fn union(self, b: Tnum) -> Tnum {
        let mu = self.mask | b.mask | (self.value ^ b.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }
}

impl core::fmt::Display for Tnum {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_const() {
            write!(f, "{:#x}", self.value)
        } else {
            write!(f, "(value {:#x}, mask {:#x})", self.value, self.mask)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tnum and one of its members.
    fn member() -> impl Strategy<Value = (Tnum, u64)> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(v, m, x)| {
            // Mostly-known tnums make the properties bite.
            let m = m & (m >> 7);
            let t = Tnum {
                value: v & !m,
                mask: m,
            };
            (t, (v & !m) | (x & m))
        })
    }

    proptest! {
        #[test]
        fn ops_contain_concrete_results((a, x) in member(), (b, y) in member(), n in 0u32..64) {
            prop_assert!(a.add(b).contains_value(x.wrapping_add(y)));
            prop_assert!(a.sub(b).contains_value(x.wrapping_sub(y)));
            prop_assert!(a.and(b).contains_value(x & y));
            prop_assert!(a.or(b).contains_value(x | y));
            prop_assert!(a.xor(b).contains_value(x ^ y));
            prop_assert!(a.mul(b).contains_value(x.wrapping_mul(y)));
            prop_assert!(a.lshift(n).contains_value(x << n));
            prop_assert!(a.rshift(n).contains_value(x >> n));
            prop_assert!(a.arshift(n, 64).contains_value(((x as i64) >> n) as u64));
            prop_assert!(a.arshift(n % 32, 32).contains_value(((x as u32 as i32) >> (n % 32)) as u32 as u64));
            prop_assert!(a.union(b).contains_value(x) && a.union(b).contains_value(y));
            prop_assert!(a.cast32().contains_value(x & 0xffff_ffff));
        }

        #[test]
        fn range_contains_its_bounds(a in any::<u64>(), b in any::<u64>(), t in any::<u64>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let r = Tnum::range(lo, hi);
            let mid = lo + (t % (hi - lo).saturating_add(1).max(1));
            prop_assert!(r.contains_value(lo) && r.contains_value(hi) && r.contains_value(mid.min(hi)));
        }
    }

    #[test]
    fn range_of_a_byte() {
        assert_eq!(
            Tnum::range(0, 255),
            Tnum {
                value: 0,
                mask: 0xff
            }
        );
        assert!(Tnum::range(4, 4).is_const());
        assert!(Tnum::UNKNOWN.contains(Tnum::constant(7)));
        assert!(!Tnum::constant(7).contains(Tnum::UNKNOWN));
    }
}
