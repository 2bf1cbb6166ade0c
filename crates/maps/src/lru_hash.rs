//! `BPF_MAP_TYPE_LRU_HASH` and `BPF_MAP_TYPE_LRU_PERCPU_HASH`: hashes that,
//! when full, evict the least recently used entry to make room instead of
//! failing with `E2BIG` (kernel: `kernel/bpf/bpf_lru_list.c`,
//! `htab_lru_map_update_elem`).
//!
//! They are [`HashTable`] and [`PercpuHashTable`] over a table created in
//! LRU mode: every element carries a stamp from a table-wide clock, set when
//! the element is inserted, updated, or looked up (by a program's
//! `bpf_map_lookup_elem` and by a control-plane lookup alike, as the
//! kernel's `bpf_lru_node_set_ref` marks both). An insert into a full map
//! evicts one element and retries; the slot count is reserved with a
//! compare-and-swap, so the map never holds more than `max_entries`
//! entries, not even for an instant.
//!
//! # How close to the kernel
//!
//! The kernel's LRU is approximate: each map (or each CPU, with
//! `BPF_F_NO_COMMON_LRU`) keeps active and inactive lists with a reference
//! bit; an insert that finds no free element shrinks the inactive list in
//! batches (`LOCAL_FREE_TARGET`, 128 at a time per CPU), so several
//! entries can vanish at once and a recently used entry can be evicted when
//! its CPU's list is short. oxbpf instead:
//!
//! - evicts **exactly one** entry per insert into a full map;
//! - picks it, with at most 256 entries ([`LRU_SAMPLE`]), by scanning
//!   every element: **exact LRU** (the entry with the oldest use goes);
//! - in larger maps, from a queue of the entries in insertion order, as
//!   the CLOCK algorithm does (approximate, like the kernel's lists): the
//!   entry at the front goes unless it was used since it was queued, in
//!   which case it moves to the back with a second chance. Each use earns
//!   at most one second chance, so an eviction costs amortised constant
//!   time, and touches the front of the queue and the victim's chain
//!   rather than the table. Chains of these maps keep their elements
//!   oldest first (new ones are appended; the chain walk that looks for
//!   an existing key ends there anyway), so the victim is found near the
//!   head of its chain. Such a map preallocates its elements (up to
//!   262,144) as the kernel does, and an element that leaves it is kept
//!   for reuse, never freed before the map: a queue entry of an element
//!   that was deleted or replaced is recognised (by the element's count
//!   of unlinks) and dropped;
//! - accepts `BPF_F_NO_COMMON_LRU` (and with it `lru_hash` keeps its one
//!   shared LRU: per-CPU lists are a kernel scalability device with no
//!   visible effect beyond which entry goes first). The kernel also rounds
//!   `max_entries` of such a map up to a multiple of the CPU count; oxbpf
//!   keeps `max_entries` as given;
//! - rejects `BPF_F_NO_PREALLOC` as the kernel does (with `EINVAL`; the
//!   kernel answers `ENOTSUPP`, an errno user space never sees by name).
//!
//! [`HashTable`]: crate::HashTable
//! [`PercpuHashTable`]: crate::PercpuHashTable
//! [`LRU_SAMPLE`]: crate::table::LRU_SAMPLE

use oxbpf_abi::map_kind::{MapKind, flags::BPF_F_NO_PREALLOC};

use crate::MapError;
use crate::spec::Common;

/// An `lru_hash` map: a [`HashTable`](crate::HashTable) in LRU mode.
pub type LruHashTable = crate::HashTable;

/// An `lru_percpu_hash` map: a [`PercpuHashTable`](crate::PercpuHashTable)
/// in LRU mode.
pub type LruPercpuHashTable = crate::PercpuHashTable;

/// Whether `kind` is one of the LRU hashes.
pub(crate) fn is_lru(kind: MapKind) -> bool {
    matches!(kind, MapKind::LruHash | MapKind::LruPercpuHash)
}

/// The LRU-specific checks of `htab_map_alloc_check`.
pub(crate) fn check_lru_spec(common: &Common) -> Result<(), MapError> {
    if common.spec.flags & BPF_F_NO_PREALLOC != 0 {
        return Err(MapError::InvalidSpec {
            kind: common.spec.kind,
            reason: "LRU maps are always preallocated: BPF_F_NO_PREALLOC is not supported",
        });
    }
    Ok(())
}
