//! Raw memory access for loads, stores and atomics.
//!
//! The only `unsafe` of the interpreter lives here. Callers establish that
//! an access is valid before calling: in checked mode with
//! [`oxbpf_runtime::Regions::check`], in verified mode by the verifier's
//! proof. Accesses may be unaligned (RFC 9669 does not require alignment
//! outside atomics, and checked mode runs unverified code).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use oxbpf_isa::{AtomicOp, Size};

/// Reads `size` bytes at `addr`, zero-extended to 64 bits.
///
/// # Safety
///
/// `[addr, addr + size.bytes())` must be readable memory that stays valid
/// for the duration of the call.
#[inline(always)]
pub(crate) unsafe fn load(addr: u64, size: Size) -> u64 {
    let p = addr as *const u8;
    // SAFETY: (all four arms) the caller guarantees `size` readable bytes
    // at `p`; `read_unaligned` has no alignment requirement.
    unsafe {
        match size {
            Size::B => p.read() as u64,
            Size::H => p.cast::<u16>().read_unaligned() as u64,
            Size::W => p.cast::<u32>().read_unaligned() as u64,
            Size::DW => p.cast::<u64>().read_unaligned(),
        }
    }
}

/// Writes the low `size` bytes of `v` at `addr`.
///
/// # Safety
///
/// `[addr, addr + size.bytes())` must be writable memory that stays valid
/// for the duration of the call and that no Rust reference currently
/// borrows.
#[inline(always)]
pub(crate) unsafe fn store(addr: u64, size: Size, v: u64) {
    let p = addr as *mut u8;
    // SAFETY: (all four arms) the caller guarantees `size` writable,
    // unborrowed bytes at `p`; `write_unaligned` has no alignment
    // requirement.
    unsafe {
        match size {
            Size::B => p.write(v as u8),
            Size::H => p.cast::<u16>().write_unaligned(v as u16),
            Size::W => p.cast::<u32>().write_unaligned(v as u32),
            Size::DW => p.cast::<u64>().write_unaligned(v),
        }
    }
}

/// The value an atomic operation stores, given the old value. `cmpxchg`
/// stores `src` only when the old value equals `r0`.
#[inline(always)]
fn combine(op: AtomicOp, old: u64, src: u64, r0: u64) -> Option<u64> {
    match op {
        AtomicOp::Add => Some(old.wrapping_add(src)),
        AtomicOp::Or => Some(old | src),
        AtomicOp::And => Some(old & src),
        AtomicOp::Xor => Some(old ^ src),
        AtomicOp::Xchg => Some(src),
        AtomicOp::CmpXchg => (old == r0).then_some(src),
    }
}

/// Performs the atomic read-modify-write `op` of `size` (`W` or `DW`) at
/// `addr` with operand `src` (and comparand `r0` for `cmpxchg`); returns the
/// old memory value, zero-extended (RFC 9669 §5.3). For `W`, only the low
/// 32 bits of `src` and `r0` take part.
///
/// An aligned access uses a real atomic instruction (sequentially
/// consistent, as the kernel's fetch forms are full barriers). A misaligned
/// one, which the kernel's verifier would refuse and only checked mode can
/// reach, is done as a plain read-modify-write: the memory it can touch in
/// checked mode is owned by this run.
///
/// # Safety
///
/// As for [`store`]: `[addr, addr + size.bytes())` must be valid, writable
/// memory, not borrowed by a Rust reference. Other threads may access it
/// only atomically.
#[inline(always)]
pub(crate) unsafe fn atomic(addr: u64, size: Size, op: AtomicOp, src: u64, r0: u64) -> u64 {
    match size {
        Size::W => {
            let (src, r0) = (src as u32, r0 as u32);
            if addr.is_multiple_of(4) {
                // SAFETY: aligned to 4, valid and writable for 4 bytes (the
                // caller), accessed by others only atomically.
                let a = unsafe { AtomicU32::from_ptr(addr as *mut u32) };
                let sc = Ordering::SeqCst;
                let old = match op {
                    AtomicOp::Add => a.fetch_add(src, sc),
                    AtomicOp::Or => a.fetch_or(src, sc),
                    AtomicOp::And => a.fetch_and(src, sc),
                    AtomicOp::Xor => a.fetch_xor(src, sc),
                    AtomicOp::Xchg => a.swap(src, sc),
                    AtomicOp::CmpXchg => match a.compare_exchange(r0, src, sc, sc) {
                        Ok(v) | Err(v) => v,
                    },
                };
                old as u64
            } else {
                // SAFETY: the caller guarantees 4 valid, writable bytes.
                let old = unsafe { load(addr, Size::W) };
                if let Some(new) = combine(op, old, src as u64, r0 as u64) {
                    // SAFETY: as above.
                    unsafe { store(addr, Size::W, new) };
                }
                old
            }
        }
        _ => {
            if addr.is_multiple_of(8) {
                // SAFETY: aligned to 8, valid and writable for 8 bytes (the
                // caller), accessed by others only atomically.
                let a = unsafe { AtomicU64::from_ptr(addr as *mut u64) };
                let sc = Ordering::SeqCst;
                match op {
                    AtomicOp::Add => a.fetch_add(src, sc),
                    AtomicOp::Or => a.fetch_or(src, sc),
                    AtomicOp::And => a.fetch_and(src, sc),
                    AtomicOp::Xor => a.fetch_xor(src, sc),
                    AtomicOp::Xchg => a.swap(src, sc),
                    AtomicOp::CmpXchg => match a.compare_exchange(r0, src, sc, sc) {
                        Ok(v) | Err(v) => v,
                    },
                }
            } else {
                // SAFETY: the caller guarantees 8 valid, writable bytes.
                let old = unsafe { load(addr, Size::DW) };
                if let Some(new) = combine(op, old, src, r0) {
                    // SAFETY: as above.
                    unsafe { store(addr, Size::DW, new) };
                }
                old
            }
        }
    }
}
