//! Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
//! Software Network Load Balancer", NSDI 2016, section 3.4), with weights
//! and a stable mode.
//!
//! A ring is a table of `size` slots (a prime), each holding the id of the
//! backend that owns it. Every backend has a preference permutation of the
//! slots, `(offset + j * skip) mod size`, derived from a stable hash of its
//! key; filling goes round-robin over the backends, each taking its next
//! preferred free slot. Weights are honoured exactly: each backend has a
//! target count (its weighted share, largest remainder first) and stops
//! taking slots once it reaches it, so shares are within one slot of the
//! weighted ideal.
//!
//! The stable mode builds the new ring from the previous one: slots whose
//! owner is still present and not above its new target keep their owner,
//! and only the freed slots are refilled by preference. Removing backends
//! then moves only their slots, where plain Maglev also reshuffles a few
//! percent of the others.
//!
//! Everything is deterministic: the hash is a fixed function of the key
//! bytes (no per-process random state), so two processes with the same
//! configuration compute the same ring.

use thiserror::Error;

/// The default ring size: the prime Katran and the Maglev paper use.
pub const DEFAULT_RING_SIZE: u32 = 65_537;

/// The slot value of "no backend" (a ring with no weighted backends).
pub const NO_BACKEND: u32 = 0;

/// Errors building a ring.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MaglevError {
    /// The ring size is not a prime (Maglev's permutations need one).
    #[error("ring size {size} is not a prime")]
    NotPrime {
        /// The size asked for.
        size: u32,
    },
    /// A backend id is 0, which the datapath reads as "no backend".
    #[error("backend {index}: id 0 is reserved for an empty slot")]
    ZeroId {
        /// The index of the backend in the list.
        index: usize,
    },
    /// Two backends share an id.
    #[error("backend {index}: id {id} is used twice")]
    DuplicateId {
        /// The index of the second backend with the id.
        index: usize,
        /// The id.
        id: u32,
    },
    /// The previous ring of a stable build has another size.
    #[error("previous ring has {found} slots, expected {expected}")]
    PreviousSize {
        /// Slots of the previous ring.
        found: usize,
        /// The ring size.
        expected: u32,
    },
}

/// One backend as Maglev sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaglevBackend {
    /// The id written into ring slots (non-zero, unique).
    pub id: u32,
    /// Relative weight; 0 keeps the backend out of the ring (drained).
    pub weight: u32,
    /// The bytes its permutation is derived from (the address, for
    /// example), so the ring does not depend on the order of the list.
    pub key: Vec<u8>,
}

impl MaglevBackend {
    /// A backend with `id`, `weight` and a key.
    pub fn new(id: u32, weight: u32, key: impl Into<Vec<u8>>) -> MaglevBackend {
        MaglevBackend {
            id,
            weight,
            key: key.into(),
        }
    }
}

/// Whether `n` is a prime (trial division; ring sizes are small).
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3u64;
    while d * d <= u64::from(n) {
        if u64::from(n).is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// A stable 64-bit hash of `bytes` with `seed`: FNV-1a over the bytes, then
/// the SplitMix64 finaliser to spread the low bits. Fixed constants, so the
/// value is the same on every machine and in every process.
pub fn stable_hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Per-backend preference permutation state: the next preferred slot,
/// `(offset + j * skip) mod size` for the j-th choice, kept incrementally
/// (one add and compare per step instead of a division).
struct Perm {
    pos: u32,
    skip: u32,
}

impl Perm {
    fn new(key: &[u8], size: u32) -> Perm {
        let m = u64::from(size);
        Perm {
            pos: (stable_hash(key, 0x6d61_676c_6576_3031) % m) as u32,
            skip: (stable_hash(key, 0x6d61_676c_6576_3032) % (m - 1) + 1) as u32,
        }
    }

    /// The current choice, and a step to the next one.
    fn take(&mut self, size: u32) -> usize {
        let s = self.pos;
        // pos < size and skip < size, so one subtraction wraps it.
        let next = u64::from(self.pos) + u64::from(self.skip);
        self.pos = if next >= u64::from(size) {
            (next - u64::from(size)) as u32
        } else {
            next as u32
        };
        s as usize
    }
}

/// Target slot counts: `size * w / W` rounded down, the remainder given one
/// slot each to the largest fractional parts.
fn targets(backends: &[MaglevBackend], size: u32) -> Vec<u32> {
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        return vec![0; backends.len()];
    }
    let m = u64::from(size);
    let mut t: Vec<u32> = backends
        .iter()
        .map(|b| (m * u64::from(b.weight) / total) as u32)
        .collect();
    let given: u64 = t.iter().map(|&x| u64::from(x)).sum();
    let mut order: Vec<usize> = (0..backends.len())
        .filter(|&i| backends[i].weight > 0)
        .collect();
    order.sort_by_key(|&i| {
        // Ties go by key hash and id, never by list position, so the ring
        // does not depend on the order backends are listed in.
        let rem = m * u64::from(backends[i].weight) % total;
        (
            std::cmp::Reverse(rem),
            stable_hash(&backends[i].key, 0),
            backends[i].id,
        )
    });
    for &i in order.iter().take((m - given) as usize) {
        t[i] += 1;
    }
    t
}

fn check(backends: &[MaglevBackend], size: u32) -> Result<(), MaglevError> {
    if !is_prime(size) {
        return Err(MaglevError::NotPrime { size });
    }
    let mut seen = std::collections::HashSet::new();
    for (index, b) in backends.iter().enumerate() {
        if b.id == NO_BACKEND {
            return Err(MaglevError::ZeroId { index });
        }
        if !seen.insert(b.id) {
            return Err(MaglevError::DuplicateId { index, id: b.id });
        }
    }
    Ok(())
}

/// Fills the free slots (`NO_BACKEND`) of `ring` by preference, each backend
/// taking slots until it holds `target[i]` (counting `held[i]` it keeps).
fn fill(ring: &mut [u32], backends: &[MaglevBackend], target: &[u32], held: &mut [u32], size: u32) {
    let mut free = ring.iter().filter(|&&s| s == NO_BACKEND).count();
    let mut perms: Vec<Perm> = backends.iter().map(|b| Perm::new(&b.key, size)).collect();
    // Sort the round-robin order by key hash, so the list order does not
    // change the ring.
    let mut order: Vec<usize> = (0..backends.len()).collect();
    order.sort_by_key(|&i| (stable_hash(&backends[i].key, 0), backends[i].id));
    while free > 0 {
        let mut progressed = false;
        for &i in &order {
            if held[i] >= target[i] || free == 0 {
                continue;
            }
            let p = &mut perms[i];
            // A full permutation visits every slot, so a free one is found
            // within `size` steps while any is free.
            loop {
                let s = p.take(size);
                if ring[s] == NO_BACKEND {
                    ring[s] = backends[i].id;
                    held[i] += 1;
                    free -= 1;
                    progressed = true;
                    break;
                }
            }
        }
        if !progressed {
            break;
        }
    }
}

/// Builds a ring with plain (weighted) Maglev.
///
/// ```
/// use oxbpf_lb::maglev::{build, MaglevBackend};
/// let ring = build(&[MaglevBackend::new(1, 1, "a"), MaglevBackend::new(2, 1, "b")], 7).unwrap();
/// assert_eq!(ring.len(), 7);
/// ```
pub fn build(backends: &[MaglevBackend], size: u32) -> Result<Vec<u32>, MaglevError> {
    check(backends, size)?;
    let target = targets(backends, size);
    let mut ring = vec![NO_BACKEND; size as usize];
    let mut held = vec![0; backends.len()];
    fill(&mut ring, backends, &target, &mut held, size);
    Ok(ring)
}

/// Builds a ring from `previous` in stable mode: every slot whose owner is
/// still in `backends` keeps it, up to the owner's new target (the first
/// slots in ring order are kept); the rest are refilled by preference.
pub fn build_stable(
    backends: &[MaglevBackend],
    size: u32,
    previous: &[u32],
) -> Result<Vec<u32>, MaglevError> {
    check(backends, size)?;
    if previous.len() != size as usize {
        return Err(MaglevError::PreviousSize {
            found: previous.len(),
            expected: size,
        });
    }
    let target = targets(backends, size);
    let index: std::collections::HashMap<u32, usize> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id, i))
        .collect();
    let mut held = vec![0u32; backends.len()];
    let mut ring: Vec<u32> = previous
        .iter()
        .map(|&id| match index.get(&id) {
            Some(&i) if held[i] < target[i] => {
                held[i] += 1;
                id
            }
            _ => NO_BACKEND,
        })
        .collect();
    fill(&mut ring, backends, &target, &mut held, size);
    Ok(ring)
}

/// The slots that differ between two rings of the same size, with the new
/// owner: what must be written to the map after a change.
pub fn diff(old: &[u32], new: &[u32]) -> Vec<(u32, u32)> {
    old.iter()
        .zip(new)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (_, &b))| (i as u32, b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes() {
        assert!(is_prime(65_537));
        assert!(is_prime(2));
        assert!(!is_prime(65_535));
        assert!(!is_prime(1));
        assert!(!is_prime(9));
    }

    #[test]
    fn non_prime_size_is_refused() {
        assert_eq!(
            build(&[MaglevBackend::new(1, 1, "a")], 100),
            Err(MaglevError::NotPrime { size: 100 })
        );
    }

    #[test]
    fn zero_and_duplicate_ids_are_refused() {
        assert_eq!(
            build(&[MaglevBackend::new(0, 1, "a")], 7),
            Err(MaglevError::ZeroId { index: 0 })
        );
        assert_eq!(
            build(
                &[MaglevBackend::new(3, 1, "a"), MaglevBackend::new(3, 1, "b")],
                7
            ),
            Err(MaglevError::DuplicateId { index: 1, id: 3 })
        );
    }

    #[test]
    fn no_weight_gives_an_empty_ring() {
        let ring = build(&[MaglevBackend::new(1, 0, "a")], 7).unwrap();
        assert_eq!(ring, vec![NO_BACKEND; 7]);
    }

    #[test]
    fn targets_sum_to_the_size() {
        let b: Vec<_> = (1..=3)
            .map(|i| MaglevBackend::new(i, i, [i as u8]))
            .collect();
        // 7 * 1/6 = 1.17, 7 * 2/6 = 2.33, 7 * 3/6 = 3.5: floors 1, 2, 3 and
        // the one remaining slot to the largest remainder (3.5).
        assert_eq!(targets(&b, 7), vec![1, 2, 4]);
    }

    #[test]
    fn diff_lists_changed_slots() {
        assert_eq!(diff(&[1, 2, 3], &[1, 4, 3]), vec![(1, 4)]);
    }
}
