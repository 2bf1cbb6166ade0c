//! Value memory: zeroed, 8-byte aligned words that programs address
//! directly.
//!
//! All map memory is held as `AtomicU64` words. That gives every value the
//! 8-byte alignment the kernel guarantees (programs do `BPF_ATOMIC` adds on
//! map values), interior mutability (programs write through raw pointers
//! while the map is shared), and lets the control plane copy values with
//! relaxed word-sized loads and stores: an aligned 8-byte word is never
//! torn, a multi-word value may be, exactly as with the kernel's
//! `copy_map_value` racing a program.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::alloc::{Layout, alloc_zeroed};

use crate::MapError;

/// `round_up(n, 8)`, as the kernel rounds per-CPU and array element sizes.
#[inline]
pub(crate) const fn round_up8(n: usize) -> usize {
    (n + 7) & !7
}

/// Words needed for `bytes` bytes.
#[inline]
pub(crate) const fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

/// `n` zeroed words in one allocation, or `NoMemory`.
pub(crate) fn alloc_words(n: usize) -> Result<Box<[AtomicU64]>, MapError> {
    if n == 0 {
        return Ok(Box::new([]));
    }
    let no_memory = MapError::NoMemory {
        bytes: (n as u64).saturating_mul(8),
    };
    let layout = Layout::array::<AtomicU64>(n).map_err(|_| no_memory)?;
    // SAFETY: the layout has a non-zero size (n > 0). alloc_zeroed returns
    // null or a block of `n` AtomicU64 slots, all bytes zero, which is a
    // valid AtomicU64 (0). The block comes from the global allocator with
    // exactly the layout Box<[AtomicU64]> uses for `n` elements, so the Box
    // may own and free it.
    unsafe {
        let p = alloc_zeroed(layout).cast::<AtomicU64>();
        if p.is_null() {
            return Err(no_memory);
        }
        Ok(Box::from_raw(core::ptr::slice_from_raw_parts_mut(p, n)))
    }
}

/// Writes `bytes` to the start of `words`; the rest of the last word
/// touched is zeroed (padding no program can address).
#[inline]
pub(crate) fn store_bytes(words: &[AtomicU64], bytes: &[u8]) {
    debug_assert!(bytes.len() <= words.len() * 8);
    let mut chunks = bytes.chunks_exact(8);
    for (w, c) in words.iter().zip(&mut chunks) {
        w.store(u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])), Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        words[bytes.len() / 8].store(u64::from_ne_bytes(last), Relaxed);
    }
}

/// Copies the first `out.len()` bytes of `words` into `out`.
#[inline]
pub(crate) fn load_bytes(words: &[AtomicU64], out: &mut [u8]) {
    debug_assert!(out.len() <= words.len() * 8);
    let len = out.len();
    let mut chunks = out.chunks_exact_mut(8);
    for (w, c) in words.iter().zip(&mut chunks) {
        c.copy_from_slice(&w.load(Relaxed).to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let last = words[len / 8].load(Relaxed).to_ne_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}

/// The last `1..=7` bytes of a key as a little-endian word, zero above
/// them: what [`store_bytes`] leaves in the key's last word. Built from two
/// overlapping loads instead of a copy into a buffer (a `memcpy` call for a
/// variable length), since key lookups are the map helpers' hot path.
#[inline]
pub(crate) fn tail_le(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!((1..8).contains(&n));
    let le32 = |b: &[u8]| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let le16 = |b: &[u8]| u64::from(u16::from_le_bytes([b[0], b[1]]));
    // The two loads overlap when n is not 8 or 4: the shared bytes land at
    // the same positions, so OR-ing them is exact.
    if n >= 4 {
        le32(rest) | le32(&rest[n - 4..]) << ((n - 4) * 8)
    } else if n >= 2 {
        le16(rest) | le16(&rest[n - 2..]) << ((n - 2) * 8)
    } else {
        u64::from(rest[0])
    }
}

/// Whether the first `bytes.len()` bytes of `words` equal `bytes`. The
/// bytes of the last word past `bytes.len()` must be zero (as
/// [`store_bytes`] leaves them).
#[inline]
pub(crate) fn eq_bytes(words: &[AtomicU64], bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for (w, c) in words.iter().zip(&mut chunks) {
        let c: [u8; 8] = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
        if w.load(Relaxed) != u64::from_ne_bytes(c) {
            return false;
        }
    }
    let rest = chunks.remainder();
    rest.is_empty()
        || u64::from_le_bytes(words[bytes.len() / 8].load(Relaxed).to_ne_bytes()) == tail_le(rest)
}

/// The pattern freed map memory is filled with in debug builds, so that a
/// run reading memory it should no longer hold sees something implausible.
pub(crate) const POISON: u64 = 0xdead_dead_dead_dead;

/// Fills `words` with [`POISON`] in debug builds (before a free).
#[inline]
pub(crate) fn poison(words: &[AtomicU64]) {
    if cfg!(debug_assertions) {
        for w in words {
            w.store(POISON, Relaxed);
        }
    }
}

/// Zeroes every word.
#[inline]
pub(crate) fn zero(words: &[AtomicU64]) {
    for w in words {
        w.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_then_load_round_trips_with_zero_padding() {
        let words = alloc_words(2).unwrap();
        words[1].store(u64::MAX, Relaxed);
        let value: Vec<u8> = (1..=11).collect();
        store_bytes(&words, &value);
        let mut out = [0u8; 11];
        load_bytes(&words, &mut out);
        assert_eq!(out[..], value[..]);
        // Bytes 11..16 are padding and were zeroed by the store.
        let mut all = [0xffu8; 16];
        load_bytes(&words, &mut all);
        assert_eq!(all[11..], [0; 5]);
        assert!(eq_bytes(&words, &value));
        assert!(!eq_bytes(&words, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]));
    }

    #[test]
    fn tail_words_and_equality_for_every_tail_length() {
        for n in 1..8usize {
            let bytes: Vec<u8> = (0..n as u8).map(|i| 0xa0 | i).collect();
            // The expected word, byte by byte: byte i at bits 8i..8i+8.
            let want = bytes
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
            assert_eq!(tail_le(&bytes), want, "tail of {n} bytes");
            // Keys of 8 + n bytes: equal to themselves, unequal when any
            // byte differs.
            let key: Vec<u8> = (0..8 + n as u8).map(|i| i.wrapping_mul(37)).collect();
            let words = alloc_words(2).unwrap();
            store_bytes(&words, &key);
            assert!(eq_bytes(&words, &key), "{n}");
            for i in 0..key.len() {
                let mut other = key.clone();
                other[i] ^= 1;
                assert!(!eq_bytes(&words, &other), "{n}: byte {i}");
            }
        }
    }

    #[test]
    fn rounding() {
        assert_eq!(round_up8(0), 0);
        assert_eq!(round_up8(1), 8);
        assert_eq!(round_up8(8), 8);
        assert_eq!(round_up8(13), 16);
        assert_eq!(words_for(13), 2);
    }

    #[test]
    fn allocations_are_zeroed_and_aligned() {
        let words = alloc_words(1000).unwrap();
        assert!(words.iter().all(|w| w.load(Relaxed) == 0));
        assert_eq!(words.as_ptr() as usize % 8, 0);
        assert!(alloc_words(0).unwrap().is_empty());
    }
}
