//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match over keys of a prefix
//! length and data (kernel: `kernel/bpf/lpm_trie.c`).
//!
//! A key is `struct bpf_lpm_trie_key_u8`: a host-endian `u32` prefix
//! length, then `data_size` bytes (1..=256) compared most significant bit
//! first (network order for addresses). Updates and deletes name a prefix
//! exactly; lookups (program and control plane) return the value of the
//! longest stored prefix that matches the key's first `prefixlen` bits.
//!
//! oxbpf keeps one hash table per prefix length present rather than the
//! kernel's binary trie: a lookup probes the present lengths from the
//! longest down, which answers the same. Readers take a shared lock, writers
//! an exclusive one (the kernel uses a spin lock for writers and RCU for
//! readers). A removed or replaced value is freed only after every
//! [`RunGuard`](crate::RunGuard) alive at removal has dropped, as for
//! hashes.
//!
//! As in the kernel: creation needs `BPF_F_NO_PREALLOC` (`EINVAL`
//! without); a prefix length above `8 * data_size` is `EINVAL` for update
//! and delete; a full trie answers `ENOSPC` (not `E2BIG`); the stored key
//! keeps the data bytes it was given, bits past the prefix included, and
//! two keys with the same prefix bits name the same entry.
//! `next_key` walks the kernel's post-order: for two prefixes, the first
//! differing bit within the shorter one orders them (0 first), and a prefix
//! comes after every longer prefix it contains (more specific first).

use core::any::Any;
use core::cmp::Ordering as CmpOrdering;
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_epoch as epoch;
use oxbpf_abi::map_kind::{
    flags::{BPF_F_ACCESS_MASK, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE},
    update::{BPF_EXIST, BPF_NOEXIST},
};

use crate::spec::{Common, KMALLOC_MAX_SIZE};
use crate::storage::{alloc_words, load_bytes, store_bytes, words_for};
use crate::{Entry, Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// Bytes of the prefix length before the data in a key.
const PREFIXLEN_SIZE: u32 = 4;
/// `LPM_DATA_SIZE_MAX`.
const DATA_SIZE_MAX: u32 = 256;
/// `sizeof(struct lpm_trie_node)` on x86-64, which `LPM_VAL_SIZE_MAX`
/// subtracts.
const TRIE_NODE_SIZE: u64 = 48;

/// One stored prefix.
#[derive(Debug)]
struct Elem {
    /// The key as given to the update (prefix length and data).
    key: Box<[u8]>,
    value: Box<[AtomicU64]>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Prefix length -> masked data -> element.
    by_len: BTreeMap<u32, HashMap<Box<[u8]>, Arc<Elem>>>,
    len: usize,
}

/// An `lpm_trie` map.
#[derive(Debug)]
pub struct LpmTrie {
    common: Common,
    max_prefixlen: u32,
    inner: RwLock<Inner>,
    retired: Arc<AtomicU64>,
    reclaimed: Arc<AtomicU64>,
}

/// `data` with every bit past the first `plen` cleared.
fn masked(data: &[u8], plen: u32) -> Box<[u8]> {
    let mut out: Box<[u8]> = data.into();
    let full = (plen / 8) as usize;
    let rem = plen % 8;
    if full < out.len() {
        out[full] &= if rem == 0 { 0 } else { 0xffu8 << (8 - rem) };
        for b in &mut out[full + 1..] {
            *b = 0;
        }
    }
    out
}

/// Bit `i` of `data`, most significant bit of byte 0 first.
fn bit(data: &[u8], i: u32) -> u8 {
    (data[(i / 8) as usize] >> (7 - i % 8)) & 1
}

/// The kernel's `get_next_key` order: post-order over the binary trie.
fn postorder(a: (u32, &[u8]), b: (u32, &[u8])) -> CmpOrdering {
    let common = a.0.min(b.0);
    for i in 0..common {
        let (x, y) = (bit(a.1, i), bit(b.1, i));
        if x != y {
            return x.cmp(&y);
        }
    }
    // One contains the other: the longer (more specific) comes first.
    b.0.cmp(&a.0)
}

impl LpmTrie {
    /// Creates the trie, checking attributes as `trie_alloc` does.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<LpmTrie, MapError> {
        let common = Common::new(spec, opts)?;
        let kind = spec.kind;
        common.check_flags_within(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if spec.flags & BPF_F_NO_PREALLOC == 0 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "an lpm_trie needs BPF_F_NO_PREALLOC",
            });
        }
        if spec.key_size <= PREFIXLEN_SIZE || spec.key_size > PREFIXLEN_SIZE + DATA_SIZE_MAX {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "key_size must be 4 bytes of prefix length plus 1 to 256 bytes of data",
            });
        }
        if u64::from(spec.value_size) > KMALLOC_MAX_SIZE - u64::from(DATA_SIZE_MAX) - TRIE_NODE_SIZE
        {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "value_size is above LPM_VAL_SIZE_MAX",
            });
        }
        let data_size = (spec.key_size - PREFIXLEN_SIZE) as usize;
        Ok(LpmTrie {
            common,
            max_prefixlen: (data_size * 8) as u32,
            inner: RwLock::new(Inner::default()),
            retired: Arc::default(),
            reclaimed: Arc::default(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // Nothing panics while holding the lock; the maps stay consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Splits a key into prefix length and data.
    fn split<'a>(&self, key: &'a [u8]) -> Result<(u32, &'a [u8]), MapError> {
        self.common.check_key(key)?;
        let (plen, data) = key.split_at(PREFIXLEN_SIZE as usize);
        let plen = u32::from_ne_bytes([plen[0], plen[1], plen[2], plen[3]]);
        Ok((plen, data))
    }

    /// Frees `elem` once no run can hold a pointer into it.
    fn retire(&self, elem: Arc<Elem>) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        let reclaimed = Arc::clone(&self.reclaimed);
        epoch::pin().defer(move || {
            drop(elem);
            reclaimed.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// The longest stored prefix matching the first `plen` bits of `data`.
    fn longest(&self, inner: &Inner, plen: u32, data: &[u8]) -> Option<Arc<Elem>> {
        let limit = plen.min(self.max_prefixlen);
        inner
            .by_len
            .range(..=limit)
            .rev()
            .find_map(|(&len, m)| m.get(&masked(data, len)).cloned())
    }

    fn upsert(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let (plen, data) = self.split(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags {
                flags,
                kind: self.common.spec.kind,
            });
        }
        if plen > self.max_prefixlen {
            return Err(MapError::PrefixLen {
                prefixlen: plen,
                max: self.max_prefixlen,
            });
        }
        let words = alloc_words(words_for(value.len()))?;
        store_bytes(&words, value);
        let elem = Arc::new(Elem {
            key: key.into(),
            value: words,
        });
        let mut inner = self.write();
        let exists = inner
            .by_len
            .get(&plen)
            .is_some_and(|m| m.contains_key(&masked(data, plen)));
        if exists && flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        if !exists && flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        if !exists && inner.len >= self.common.spec.max_entries as usize {
            return Err(MapError::NoSpace {
                max_entries: self.common.spec.max_entries,
            });
        }
        let old = inner
            .by_len
            .entry(plen)
            .or_default()
            .insert(masked(data, plen), elem);
        match old {
            Some(old) => self.retire(old),
            None => inner.len += 1,
        }
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<(), MapError> {
        let (plen, data) = self.split(key)?;
        if plen > self.max_prefixlen {
            return Err(MapError::PrefixLen {
                prefixlen: plen,
                max: self.max_prefixlen,
            });
        }
        let mut inner = self.write();
        let m = inner.by_len.get_mut(&plen).ok_or(MapError::NotFound)?;
        let old = m.remove(&masked(data, plen)).ok_or(MapError::NotFound)?;
        if m.is_empty() {
            inner.by_len.remove(&plen);
        }
        inner.len -= 1;
        drop(inner);
        self.retire(old);
        Ok(())
    }

    /// Every element in `next_key` order.
    fn ordered(&self) -> Vec<Arc<Elem>> {
        let inner = self.read();
        let mut all: Vec<(u32, Box<[u8]>, Arc<Elem>)> = inner
            .by_len
            .iter()
            .flat_map(|(&len, m)| m.iter().map(move |(d, e)| (len, d.clone(), e.clone())))
            .collect();
        drop(inner);
        all.sort_by(|a, b| postorder((a.0, &a.1), (b.0, &b.1)));
        all.into_iter().map(|(_, _, e)| e).collect()
    }

    fn value_of(&self, elem: &Elem) -> Vec<u8> {
        let mut out = vec![0; self.common.spec.value_size as usize];
        load_bytes(&elem.value, &mut out);
        out
    }
}

impl Drop for LpmTrie {
    fn drop(&mut self) {
        // Runs may still hold value pointers: retire rather than free.
        let inner = core::mem::take(&mut *self.write());
        for m in inner.by_len.into_values() {
            for e in m.into_values() {
                self.retire(e);
            }
        }
    }
}

impl Map for LpmTrie {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.read().len,
            retired: self.retired.load(Ordering::Relaxed),
            reclaimed: self.reclaimed.load(Ordering::Relaxed),
        }
    }

    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_read("lookup")?;
        let (plen, data) = self.split(key)?;
        self.common
            .check_value(out, self.common.spec.value_size as usize)?;
        let elem = self
            .longest(&self.read(), plen, data)
            .ok_or(MapError::NotFound)?;
        load_bytes(&elem.value, out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.upsert(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_write("delete")?;
        self.remove(key)
    }

    fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        self.common.check_read("next_key")?;
        let all = self.ordered();
        let pos = match key {
            None => None,
            Some(key) => {
                let (plen, data) = self.split(key)?;
                let want = masked(data, plen.min(self.max_prefixlen));
                all.iter().position(|e| {
                    let (p, d) = e.key.split_at(PREFIXLEN_SIZE as usize);
                    u32::from_ne_bytes([p[0], p[1], p[2], p[3]]) == plen && masked(d, plen) == want
                })
            }
        };
        // An absent key restarts from the first, as trie_get_next_key's
        // find_leftmost does.
        let next = pos.map_or(0, |p| p + 1);
        all.get(next)
            .map(|e| e.key.to_vec())
            .ok_or(MapError::NotFound)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.common.check_read("keys")?;
        Ok(self.ordered().iter().map(|e| e.key.to_vec()).collect())
    }

    fn entries(&self) -> Result<Vec<Entry>, MapError> {
        self.common.check_read("entries")?;
        Ok(self
            .ordered()
            .iter()
            .map(|e| (e.key.to_vec(), self.value_of(e)))
            .collect())
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        let inner = core::mem::take(&mut *self.write());
        for m in inner.by_len.into_values() {
            for e in m.into_values() {
                self.retire(e);
            }
        }
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    fn lookup_ptr(&self, key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        let (plen, data) = self.split(key).ok()?;
        let elem = self.longest(&self.read(), plen, data)?;
        // The map holds another reference until the element is retired,
        // and a retired element is dropped only after `_guard` (pinned
        // before this lookup) has dropped.
        Some(ValuePtr::new(
            core::ptr::NonNull::from(&elem.value[0]).cast::<u8>(),
            self.common.spec.value_size,
            self.common.prog_writable(),
        ))
    }

    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, _cpu: u32) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.upsert(key, value, flags)
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_prog_write("delete")?;
        self.remove(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
