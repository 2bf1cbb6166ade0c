//! Pure value semantics of ALU, byte-swap and jump instructions.
//!
//! Kept apart from the interpreter loop so that every engine's tests (and
//! a faster interpreter) can use the same definitions. Each function is the
//! RFC 9669 definition plus the kernel's answers where the RFC leaves the
//! outcome open (division by zero, `INT_MIN / -1`).

use oxbpf_isa::{AluOp, Endian, JmpCond};

/// A 64-bit ALU operation (RFC 9669 §4.1): `dst = dst op src`, where `src`
/// is the register value or the sign-extended immediate.
///
/// - `div` / `sdiv` by zero give 0, `mod` / `smod` by zero leave `dst`
///   unchanged (RFC 9669 §4.1, the kernel's `do_misc_fixups` patch);
/// - `sdiv` of `i64::MIN` by -1 gives `i64::MIN`, `smod` gives 0;
/// - signed division truncates toward zero, so `smod` takes the sign of
///   the dividend;
/// - shift counts are masked to 6 bits.
///
/// ```
/// use oxbpf_interp::semantics::alu64;
/// use oxbpf_isa::AluOp;
/// assert_eq!(alu64(AluOp::Div, 7, 0), 0);
/// assert_eq!(alu64(AluOp::Mod, 7, 0), 7);
/// ```
#[inline]
pub fn alu64(op: AluOp, dst: u64, src: u64) -> u64 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        AluOp::SDiv => {
            if src == 0 {
                0
            } else {
                (dst as i64).wrapping_div(src as i64) as u64
            }
        }
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Lsh => dst << (src & 63),
        AluOp::Rsh => dst >> (src & 63),
        AluOp::Neg => (dst as i64).wrapping_neg() as u64,
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        AluOp::SMod => {
            if src == 0 {
                dst
            } else {
                (dst as i64).wrapping_rem(src as i64) as u64
            }
        }
        AluOp::Xor => dst ^ src,
        AluOp::Mov => src,
        AluOp::MovSx8 => src as i8 as i64 as u64,
        AluOp::MovSx16 => src as i16 as i64 as u64,
        AluOp::MovSx32 => src as i32 as i64 as u64,
        AluOp::Arsh => ((dst as i64) >> (src & 63)) as u64,
    }
}

/// A 32-bit ALU operation on the low halves; the engine zero-extends the
/// result into the 64-bit register. Same rules as [`alu64`] with 32-bit
/// widths: shift counts masked to 5 bits, `mod` by zero keeps the low half
/// of `dst` (so the register's high half still becomes 0).
///
/// ```
/// use oxbpf_interp::semantics::alu32;
/// use oxbpf_isa::AluOp;
/// assert_eq!(alu32(AluOp::SDiv, i32::MIN as u32, -1i32 as u32), i32::MIN as u32);
/// ```
#[inline]
pub fn alu32(op: AluOp, dst: u32, src: u32) -> u32 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        AluOp::SDiv => {
            if src == 0 {
                0
            } else {
                (dst as i32).wrapping_div(src as i32) as u32
            }
        }
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Lsh => dst << (src & 31),
        AluOp::Rsh => dst >> (src & 31),
        AluOp::Neg => (dst as i32).wrapping_neg() as u32,
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        AluOp::SMod => {
            if src == 0 {
                dst
            } else {
                (dst as i32).wrapping_rem(src as i32) as u32
            }
        }
        AluOp::Xor => dst ^ src,
        AluOp::Mov => src,
        AluOp::MovSx8 => src as i8 as i32 as u32,
        AluOp::MovSx16 => src as i16 as i32 as u32,
        // Not encodable in the 32-bit class (the decoder refuses it); a
        // 32-bit value sign-extended to 32 bits is itself.
        AluOp::MovSx32 => src,
        AluOp::Arsh => ((dst as i32) >> (src & 31)) as u32,
    }
}

/// Byte-order conversion of the low `bits` of `v` (RFC 9669 §4.2); the
/// result is zero-extended to 64 bits. `le`/`be` convert between host order
/// and the named order, so on a little-endian host `le16` only truncates
/// and `be16` swaps; `bswap` always swaps.
///
/// ```
/// use oxbpf_interp::semantics::end;
/// use oxbpf_isa::Endian;
/// assert_eq!(end(Endian::ToBe, 16, 0x1122_3344), 0x4433);
/// ```
#[inline]
pub fn end(kind: Endian, bits: u8, v: u64) -> u64 {
    match (kind, bits) {
        (Endian::ToLe, 16) => (v as u16).to_le() as u64,
        (Endian::ToLe, 32) => (v as u32).to_le() as u64,
        (Endian::ToLe, _) => v.to_le(),
        (Endian::ToBe, 16) => (v as u16).to_be() as u64,
        (Endian::ToBe, 32) => (v as u32).to_be() as u64,
        (Endian::ToBe, _) => v.to_be(),
        (Endian::Swap, 16) => (v as u16).swap_bytes() as u64,
        (Endian::Swap, 32) => (v as u32).swap_bytes() as u64,
        (Endian::Swap, _) => v.swap_bytes(),
    }
}

/// A 64-bit jump condition (RFC 9669 §4.3): `dst cond src`.
#[inline]
pub fn cond64(cond: JmpCond, dst: u64, src: u64) -> bool {
    match cond {
        JmpCond::Eq => dst == src,
        JmpCond::Gt => dst > src,
        JmpCond::Ge => dst >= src,
        JmpCond::Set => dst & src != 0,
        JmpCond::Ne => dst != src,
        JmpCond::Sgt => (dst as i64) > (src as i64),
        JmpCond::Sge => (dst as i64) >= (src as i64),
        JmpCond::Lt => dst < src,
        JmpCond::Le => dst <= src,
        JmpCond::Slt => (dst as i64) < (src as i64),
        JmpCond::Sle => (dst as i64) <= (src as i64),
    }
}

/// A `JMP32` condition: compares the low 32 bits only.
#[inline]
pub fn cond32(cond: JmpCond, dst: u32, src: u32) -> bool {
    match cond {
        JmpCond::Eq => dst == src,
        JmpCond::Gt => dst > src,
        JmpCond::Ge => dst >= src,
        JmpCond::Set => dst & src != 0,
        JmpCond::Ne => dst != src,
        JmpCond::Sgt => (dst as i32) > (src as i32),
        JmpCond::Sge => (dst as i32) >= (src as i32),
        JmpCond::Lt => dst < src,
        JmpCond::Le => dst <= src,
        JmpCond::Slt => (dst as i32) < (src as i32),
        JmpCond::Sle => (dst as i32) <= (src as i32),
    }
}
