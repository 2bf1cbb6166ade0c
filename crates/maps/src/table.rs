//! The chained hash table behind `hash` and `percpu_hash` (and, later, the
//! LRU hashes): lock-free lookups, one lock per bucket for writers, and
//! epoch-based reclamation of removed elements.
//!
//! The shape follows the kernel's `htab`: a power-of-two array of buckets,
//! each a singly linked list of elements. Readers walk a list without
//! locking, as `lookup_nulls_elem_raw` does under RCU; writers take the
//! bucket's lock, link a fully built element in with a release store, and
//! unlink an element by pointing its predecessor past it. An unlinked
//! element keeps its `next` pointer, so a reader standing on it still
//! reaches the rest of the list, and it is freed only after every guard
//! pinned before the unlink has dropped ([`Table::retire`]).
//!
//! An element holds 8-byte words: the key (padded to a whole word) and then
//! `nslots` value slots of `slot_words` words each (one slot for `hash`, one
//! per CPU for `percpu_hash`); up to [`INLINE_WORDS`] of them live inside
//! the element's own allocation, more in a second one.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::Arc;

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned, Shared};
use oxbpf_abi::map_kind::update::{BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

use crate::MapError;
use crate::huge::{HugeArray, Slab};
use crate::spin::{SpinGuard, SpinLock};
use crate::storage::{alloc_words, eq_bytes, load_bytes, poison, store_bytes, tail_le, words_for};

/// Most buckets a table allocates. The kernel uses
/// `roundup_pow_of_two(max_entries)` buckets; past this many (16 MiB of
/// buckets) oxbpf lets chains grow instead of allocating more.
const MAX_BUCKETS: usize = 1 << 20;

/// Counters of retired and reclaimed elements, and the reclaimed elements
/// kept for reuse; shared with the deferred frees (which may run after the
/// table is gone).
#[derive(Default)]
pub(crate) struct Reclaim {
    pub(crate) retired: AtomicU64,
    pub(crate) reclaimed: AtomicU64,
    /// Reclaimed elements (every guard that could reach them has dropped)
    /// that the next inserts take instead of allocating, as the kernel's
    /// preallocated htab takes elements from its free list: an LRU table
    /// that evicts on every insert then allocates nothing. At most
    /// [`POOL_MAX`]. With them, under the same lock, the eviction queue of
    /// a large LRU table: an insert takes an element and queues it in one
    /// critical section.
    lists: SpinLock<Lists>,
    /// Elements in `pool`, read without its lock (an insert into a table
    /// that never frees does not take it).
    pooled: AtomicUsize,
    /// Large LRU tables: their preallocated elements, in one array of
    /// huge-page memory (`Table::preallocate`). The pool and the table hold
    /// pointers into it; it outlives them both (it is dropped last, with
    /// the table's last deferred function).
    arena: Option<HugeArray<Node>>,
}

impl Drop for Reclaim {
    fn drop(&mut self) {
        let Some(arena) = &self.arena else {
            return;
        };
        // Every element is back in the pool by now (the table and every
        // deferred function holding this are gone); those of the arena
        // are the arena's to drop, the others (allocated one by one when
        // the arena ran short) are freed here.
        for node in self.lists.get_mut().pool.drain(..) {
            if arena.contains(&*node) {
                core::mem::forget(node);
            }
        }
    }
}

/// What [`Reclaim::lists`] guards.
#[derive(Default)]
struct Lists {
    /// Reclaimed elements kept for reuse.
    pool: Vec<Owned<Node>>,
    /// Large LRU tables: elements in the order they were queued (inserted,
    /// or given a second chance), the next eviction's candidates at the
    /// front ([`Table::evict_queued`]). Empty for the others.
    queue: VecDeque<Queued>,
    /// Tables that keep all their elements: retired elements (addresses)
    /// not yet handed to the epoch scheme, which gets them
    /// [`RETIRE_BATCH`] at a time, one deferred function per batch. They
    /// count as retired ([`Reclaim::counts`]).
    limbo: Vec<usize>,
}

/// How many queue entries ahead of the front an eviction prefetches.
const QUEUE_PREFETCH: usize = 8;

/// Retired elements a table that keeps its elements hands to the epoch
/// scheme at once.
const RETIRE_BATCH: usize = 64;

impl core::fmt::Debug for Reclaim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reclaim")
            .field("retired", &self.retired)
            .field("reclaimed", &self.reclaimed)
            .finish_non_exhaustive()
    }
}

/// Most reclaimed elements a table keeps for reuse.
const POOL_MAX: usize = 1024;

impl Reclaim {
    /// Elements retired and reclaimed so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let limbo = self.lists.lock().limbo.len();
        (
            self.retired.load(Ordering::Relaxed) + limbo as u64,
            self.reclaimed.load(Ordering::Relaxed),
        )
    }

    /// Keeps a reclaimed element for reuse, or frees it.
    fn recycle(&self, node: Owned<Node>) {
        // Poisoned as a freed element would be: nothing may read it now.
        // (Debug builds only; the check keeps release builds from reading
        // the element, which is likely cold by now.)
        if cfg!(debug_assertions) {
            poison(node.words.as_slice());
        }
        let mut lists = self.lists.lock();
        if lists.pool.len() < POOL_MAX {
            lists.pool.push(node);
            self.pooled.store(lists.pool.len(), Ordering::Relaxed);
        }
    }

    /// Keeps reclaimed elements (addresses of elements allocated by
    /// `Owned::new`, each passed once) for reuse: one lock for the batch.
    /// Only tables with an eviction queue retire in batches, and they keep
    /// every element until they are dropped, so there is no cap.
    ///
    /// # Safety
    ///
    /// As for `Owned::from_raw` on each address.
    unsafe fn recycle_all(&self, batch: &[usize]) {
        let mut lists = self.lists.lock();
        for &addr in batch {
            // SAFETY: the caller's.
            let node = unsafe { Owned::<Node>::from_raw(addr as *mut Node) };
            if cfg!(debug_assertions) {
                poison(node.words.as_slice());
            }
            lists.pool.push(node);
        }
        self.pooled.store(lists.pool.len(), Ordering::Relaxed);
        drop(lists);
        self.reclaimed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    /// The last element of the pool, if any; the one after it is
    /// prefetched (the next insert takes it: have it in cache by then).
    #[inline]
    fn pop_pool(lists: &mut Lists, pooled: &AtomicUsize) -> Option<Owned<Node>> {
        let node = lists.pool.pop();
        pooled.store(lists.pool.len(), Ordering::Relaxed);
        if let Some(next) = lists.pool.last() {
            prefetch_element(&**next);
        }
        node
    }
}

/// Asks the CPU to bring the cache lines of an element's first 128 bytes
/// in (its header and a small key and value); no effect off x86-64.
#[inline(always)]
fn prefetch_element(node: *const Node) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = node.cast::<i8>();
        // SAFETY: a prefetch is a hint: it never faults, whatever the
        // address, and reads or writes no memory.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = node;
}

/// One element.
pub(crate) struct Node {
    /// The key's hash. Atomic (a plain load on x86) because a reused
    /// element is rewritten while an eviction may read a stale queue entry
    /// naming it; its words are written through shared references only.
    hash: AtomicU64,
    next: Atomic<Node>,
    /// LRU tables: the table clock when the element was last used (inserted
    /// or looked up); smaller is older. Unused by the other tables.
    used: AtomicU64,
    /// How many times the element has been unlinked: an eviction queue
    /// entry that recorded another count names an element that has left
    /// the table since (and may be back under another key).
    unlinks: AtomicU64,
    words: Words,
}

/// Words of an element up to which they live inside the element itself:
/// a small key and value (a 5-tuple and a per-CPU counter pair, say) then
/// cost one allocation per insert instead of two.
const INLINE_WORDS: usize = 8;

/// An element's key and value words.
enum Words {
    /// The first `len` words are the element's.
    Inline {
        len: usize,
        words: [AtomicU64; INLINE_WORDS],
    },
    /// A separate allocation, for larger elements.
    Heap(Box<[AtomicU64]>),
}

impl Words {
    /// `n` zeroed words.
    fn zeroed(n: usize) -> Result<Words, MapError> {
        Ok(if n <= INLINE_WORDS {
            Words::Inline {
                len: n,
                words: Default::default(),
            }
        } else {
            Words::Heap(alloc_words(n)?)
        })
    }

    #[inline]
    fn as_slice(&self) -> &[AtomicU64] {
        match self {
            Words::Inline { len, words } => &words[..*len],
            Words::Heap(words) => words,
        }
    }
}

impl Node {
    /// A new element, linked nowhere, never used or unlinked.
    fn new(hash: u64, used: u64, words: Words) -> Node {
        Node {
            hash: AtomicU64::new(hash),
            next: Atomic::null(),
            used: AtomicU64::new(used),
            unlinks: AtomicU64::new(0),
            words,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Poison freed elements in debug builds: a run that still read this
        // memory after it was reclaimed would see the pattern instead of
        // plausible stale data, and the tests would notice.
        poison(self.words.as_slice());
    }
}

struct Bucket {
    lock: SpinLock<()>,
    head: Atomic<Node>,
}

impl Bucket {
    fn lock(&self) -> SpinGuard<'_, ()> {
        // Nothing panics while holding a bucket lock; if something did, the
        // list is still consistent (every store is a single pointer write).
        self.lock.lock()
    }
}

/// What an update does to an element that already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnExisting {
    /// Build a new element and swap it in; the old one is retired. Runs
    /// holding the old value keep seeing it, as with `htab_map_update_elem`.
    Replace,
    /// Write into the existing element, as `pcpu_copy_value` does for
    /// per-CPU hashes.
    InPlace,
}

/// The table.
pub(crate) struct Table {
    buckets: Slab<Bucket>,
    mask: u64,
    count: AtomicUsize,
    max_entries: usize,
    key_size: usize,
    key_words: usize,
    slot_words: usize,
    nslots: usize,
    seed: u64,
    reclaim: Arc<Reclaim>,
    /// Evict the least recently used element when full (`lru_hash`,
    /// `lru_percpu_hash`) instead of failing with `E2BIG`.
    lru: bool,
    /// LRU clock: incremented on every use of an element.
    clock: AtomicU64,
    /// LRU: the bucket the next eviction scan starts from.
    cursor: AtomicUsize,
    /// Large LRU tables: evictions take elements from a queue
    /// (`Lists::queue`, [`Table::evict_queued`]).
    queued: bool,
}

/// An eviction queue entry: an element as it was when queued.
#[derive(Clone, Copy)]
struct Queued {
    /// The element's address. Elements of a table with a queue are never
    /// freed while the table lives (they retire in batches that
    /// `Reclaim::recycle_all` keeps whole), so this stays
    /// readable even after the element left the table.
    node: usize,
    /// Its `unlinks` then: a different one now means it left the table.
    unlinks: u64,
    /// Its `used` stamp then: a different one now means it was used since.
    used: u64,
}

impl Queued {
    /// The element. Only its atomics may be read: another thread may be
    /// reusing it.
    fn element(&self) -> &Node {
        // SAFETY: the entry is read while the table that queued it lives
        // (the queue is part of it), and elements of such a table are never
        // freed before it (`Queued::node`).
        unsafe { &*(self.node as *const Node) }
    }

    /// Whether the element is still in the table as it was when queued.
    fn in_table(&self) -> bool {
        self.element().unlinks.load(Ordering::Acquire) == self.unlinks
    }
}

/// Most elements a large LRU table preallocates (the kernel preallocates
/// all of an LRU map's elements; past this many, the rest are allocated
/// when first inserted).
const LRU_PREALLOC_MAX: usize = 1 << 18;

/// With at most this many entries an LRU eviction scans every element and
/// evicts the least recently used one (exact LRU); above it, evictions
/// take elements from a queue in insertion order and give those used since
/// a second chance (see `lru_hash.rs`).
pub(crate) const LRU_SAMPLE: usize = 256;

/// What one insertion attempt found.
enum Attempt {
    Done(Result<(), MapError>),
    /// An LRU table is full: evict, then try again.
    Evict,
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table")
            .field("buckets", &self.buckets.len())
            .field("count", &self.count.load(Ordering::Relaxed))
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// A table for `max_entries` keys of `key_size` bytes and `nslots`
    /// values of `slot_bytes` bytes (a multiple of 8). `zero_seed` hashes
    /// with seed 0 (`BPF_F_ZERO_SEED`), otherwise the seed is random.
    pub(crate) fn new(
        max_entries: u32,
        key_size: usize,
        slot_bytes: usize,
        nslots: usize,
        zero_seed: bool,
    ) -> Result<Table, MapError> {
        let n = (max_entries as usize)
            .next_power_of_two()
            .clamp(1, MAX_BUCKETS);
        let bucket = |_| Bucket {
            lock: SpinLock::new(()),
            head: Atomic::null(),
        };
        let buckets = match HugeArray::new(n, bucket) {
            Some(huge) => Slab::Huge(huge),
            None => {
                let mut buckets = Vec::new();
                buckets
                    .try_reserve_exact(n)
                    .map_err(|_| MapError::NoMemory {
                        bytes: (n * core::mem::size_of::<Bucket>()) as u64,
                    })?;
                buckets.extend((0..n).map(bucket));
                Slab::Heap(buckets.into_boxed_slice())
            }
        };
        let seed = if zero_seed {
            0
        } else {
            std::collections::hash_map::RandomState::new().hash_one(0x6f78_6270_665f_6d61u64)
        };
        Ok(Table {
            buckets,
            mask: (n - 1) as u64,
            count: AtomicUsize::new(0),
            max_entries: max_entries as usize,
            key_size,
            key_words: words_for(key_size),
            slot_words: slot_bytes / 8,
            nslots,
            seed,
            reclaim: Arc::new(Reclaim::default()),
            lru: false,
            clock: AtomicU64::new(1),
            cursor: AtomicUsize::new(0),
            queued: false,
        })
    }

    /// The same table, evicting its least recently used element when an
    /// insert finds it full. Above [`LRU_SAMPLE`] entries it gets an
    /// eviction queue, keeps every element it ever had until it is dropped,
    /// and starts with its elements preallocated (up to
    /// [`LRU_PREALLOC_MAX`]).
    pub(crate) fn with_lru(mut self) -> Table {
        self.lru = true;
        if self.max_entries > LRU_SAMPLE {
            self.queued = true;
            if let Some(reclaim) = Arc::get_mut(&mut self.reclaim) {
                let lists = reclaim.lists.get_mut();
                let _ = lists.queue.try_reserve_exact(self.max_entries + 1);
            }
            self.preallocate(self.max_entries.min(LRU_PREALLOC_MAX));
        }
        self
    }

    /// Puts up to `n` new elements in the reuse pool, as the kernel
    /// preallocates an LRU map's elements: inserts then take them instead
    /// of allocating (and first touching fresh memory) while they run.
    /// Stops early, leaving the rest to be allocated on insert, if memory
    /// runs short.
    ///
    /// Elements whose words live inline come from one array in huge-page
    /// memory when they are many ([`HugeArray`]): lookups and evictions
    /// reach random elements, and 4 KiB pages would make most of those
    /// reaches TLB misses too.
    fn preallocate(&mut self, n: usize) {
        let words = self.key_words + self.nslots * self.slot_words;
        let Some(reclaim) = Arc::get_mut(&mut self.reclaim) else {
            return;
        };
        let pool = &mut reclaim.lists.get_mut().pool;
        if pool.try_reserve_exact(n).is_err() {
            return;
        }
        if words <= INLINE_WORDS
            && let Some(arena) = HugeArray::new(n, |_| {
                let inline = Words::Inline {
                    len: words,
                    words: Default::default(),
                };
                Node::new(0, 0, inline)
            })
        {
            for node in arena.as_slice() {
                // SAFETY: the arena lives as long as the pool (see
                // `Reclaim::arena`), and these Owned are never dropped:
                // `Reclaim::drop` forgets those of the arena.
                pool.push(unsafe { Owned::from_raw(core::ptr::from_ref(node).cast_mut()) });
            }
            reclaim.pooled.store(pool.len(), Ordering::Relaxed);
            reclaim.arena = Some(arena);
            return;
        }
        for _ in 0..n {
            let Ok(words) = Words::zeroed(words) else {
                break;
            };
            pool.push(Owned::new(Node::new(0, 0, words)));
        }
        reclaim.pooled.store(pool.len(), Ordering::Relaxed);
    }

    /// Marks an element used now (LRU tables only). An element that is
    /// already the most recently used one keeps its stamp: the order does
    /// not change, and a hot flow's lookups then cost two loads instead of
    /// an atomic increment of the table-wide clock (the kernel's LRU, too,
    /// only sets a reference bit that is not set yet, `bpf_lru_node_set_ref`).
    #[inline]
    fn touch(&self, node: &Node) {
        if self.lru {
            let newest = self.clock.load(Ordering::Relaxed).wrapping_sub(1);
            if node.used.load(Ordering::Relaxed) != newest {
                node.used.store(
                    self.clock.fetch_add(1, Ordering::Relaxed),
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Entries in the table.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The reclamation counters.
    pub(crate) fn reclaim(&self) -> &Reclaim {
        &self.reclaim
    }

    /// A seeded multiply-fold hash of the key. Like the kernel's jhash with
    /// a random seed it is fast and not guessable from outside without the
    /// seed; it is not a cryptographic hash.
    #[inline(always)]
    fn hash(&self, key: &[u8]) -> u64 {
        #[inline]
        fn fold(a: u64, b: u64) -> u64 {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        }
        const K1: u64 = 0x9e37_79b9_7f4a_7c15;
        const K2: u64 = 0xd6e8_feb8_6659_fd93;
        let mut h = self.seed ^ K1;
        let k = K2 ^ self.seed.rotate_left(17);
        let mut chunks = key.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = fold(h ^ w, k);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            h = fold(h ^ tail_le(rest), K2);
        }
        fold(h ^ key.len() as u64, K1)
    }

    #[inline]
    fn bucket(&self, hash: u64) -> &Bucket {
        &self.buckets[(hash & self.mask) as usize]
    }

    /// The key words of an element.
    #[inline]
    fn key_of<'a>(&self, node: &'a Node) -> &'a [AtomicU64] {
        &node.words.as_slice()[..self.key_words]
    }

    /// Value slot `slot` of an element.
    #[inline]
    pub(crate) fn slot<'a>(&self, node: &'a Node, slot: usize) -> &'a [AtomicU64] {
        let start = self.key_words + slot * self.slot_words;
        &node.words.as_slice()[start..start + self.slot_words]
    }

    /// Address of value slot `slot` of an element.
    #[inline]
    pub(crate) fn slot_ptr(&self, node: &Node, slot: usize) -> NonNull<u8> {
        // A slot has at least one word (value_size > 0), so this is a
        // pointer into the element's allocation, never dangling.
        NonNull::from(&self.slot(node, slot)[0]).cast::<u8>()
    }

    /// The key of an element, copied out.
    pub(crate) fn key_bytes(&self, node: &Node) -> Vec<u8> {
        let mut out = vec![0; self.key_size];
        load_bytes(self.key_of(node), &mut out);
        out
    }

    #[inline]
    fn matches(&self, node: &Node, hash: u64, key: &[u8]) -> bool {
        node.hash.load(Ordering::Relaxed) == hash && eq_bytes(self.key_of(node), key)
    }

    /// The element for `key`, valid while `guard` lives. Lock-free.
    /// Inlined into each map type's `lookup_ptr`: the program's lookups
    /// call nothing deeper.
    #[inline(always)]
    pub(crate) fn find<'g>(&self, key: &[u8], guard: &'g Guard) -> Option<&'g Node> {
        let hash = self.hash(key);
        let mut cur = self.bucket(hash).head.load(Ordering::Acquire, guard);
        // SAFETY: every pointer in a list was published with a release
        // store of a fully built element, and elements reachable after
        // `guard` was pinned are retired, not freed, until it drops.
        while let Some(node) = unsafe { cur.as_ref() } {
            if self.matches(node, hash, key) {
                self.touch(node);
                return Some(node);
            }
            cur = node.next.load(Ordering::Acquire, guard);
        }
        None
    }

    /// A new, unlinked element holding `key` and zeroed values: a
    /// reclaimed one of this table when one is kept, else a fresh one.
    ///
    /// Returns with it whether it is queued for eviction already: in a
    /// table with an eviction queue a reused element is queued in the same
    /// critical section that takes it from the pool (one lock per insert
    /// instead of two), before the caller links it; evictions that meet
    /// such an entry before the link put it back (`requeue_unlinked`).
    /// Other new elements are the caller's to queue once linked.
    ///
    /// `lists` is the lists if the caller holds them locked already (an
    /// eviction beside the insert); they are unlocked before it returns.
    fn new_node(
        &self,
        hash: u64,
        key: &[u8],
        lists: Option<SpinGuard<'_, Lists>>,
    ) -> Result<(Owned<Node>, bool), MapError> {
        if lists.is_some() || self.reclaim.pooled.load(Ordering::Relaxed) != 0 {
            let mut lists = lists.unwrap_or_else(|| self.lists());
            if let Some(node) = Reclaim::pop_pool(&mut lists, &self.reclaim.pooled) {
                // Written through a shared reference, as an eviction may
                // read the element meanwhile (see `Node::hash`).
                node.hash.store(hash, Ordering::Relaxed);
                node.next.store(Shared::null(), Ordering::Relaxed);
                if self.queued {
                    // Inserts into a queued table advance the clock under
                    // the lists' lock, one at a time: a load and a store
                    // instead of an atomic increment. A lookup's increment
                    // racing with it may be lost, so two uses can share a
                    // stamp; the queue only asks whether a stamp changed
                    // since an element was queued, which a lost increment
                    // of another element's use does not change.
                    let c = self.clock.load(Ordering::Relaxed);
                    self.clock.store(c + 1, Ordering::Relaxed);
                    node.used.store(c, Ordering::Relaxed);
                    self.push_queued(&mut lists, &node);
                } else {
                    let used = self.clock.fetch_add(1, Ordering::Relaxed);
                    node.used.store(used, Ordering::Relaxed);
                }
                drop(lists);
                // Every element of a table has the same number of words:
                // the key's (written whole, padding zeroed, by
                // store_bytes), then the values', zeroed.
                let words = node.words.as_slice();
                store_bytes(&words[..self.key_words], key);
                crate::storage::zero(&words[self.key_words..]);
                return Ok((node, self.queued));
            }
        }
        let words = Words::zeroed(self.key_words + self.nslots * self.slot_words)?;
        store_bytes(&words.as_slice()[..self.key_words], key);
        let used = self.clock.fetch_add(1, Ordering::Relaxed);
        Ok((Owned::new(Node::new(hash, used, words)), false))
    }

    /// Retires an unlinked element: it is freed once every guard pinned
    /// before now has dropped.
    fn retire(&self, node: Shared<'_, Node>, guard: &Guard) {
        if self.queued {
            let batch = self.to_limbo(&mut self.lists(), node);
            if let Some(batch) = batch {
                self.defer_batch(batch, guard);
            }
            return;
        }
        // (Unlinks are counted only for the eviction queue's sake.)
        self.reclaim.retired.fetch_add(1, Ordering::Relaxed);
        let reclaim = Arc::clone(&self.reclaim);
        // SAFETY: the caller unlinked `node` under its bucket lock, so no
        // new reader can reach it and no other writer will retire it again;
        // readers that reached it did so under guards pinned before this
        // call, which the epoch scheme waits for before running the closure.
        // The node was allocated by Owned::new, so into_owned frees it
        // correctly. The closure's captures (a pointer and an Arc) are safe
        // to move to whichever thread reclaims.
        unsafe {
            guard.defer_unchecked(move || {
                reclaim.recycle(node.into_owned());
                reclaim.reclaimed.fetch_add(1, Ordering::Relaxed);
            });
        }
    }

    /// Counts an unlink of an element the caller has just unlinked (under
    /// its bucket lock, or with the table to itself): only the unlinking
    /// writer stores the count, so a load and a store do.
    #[inline]
    fn count_unlink(node: Shared<'_, Node>) {
        // SAFETY: the caller has just unlinked it; it is live until it is
        // reclaimed, after this.
        let n = unsafe { node.deref() };
        n.unlinks
            .store(n.unlinks.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Retires an element of a table that keeps its elements, which the
    /// caller has just unlinked: it goes to the limbo list; a full batch
    /// is returned for the caller to hand to the epoch scheme
    /// ([`Table::defer_batch`]) once it has let go of `lists`.
    #[inline]
    fn to_limbo(&self, lists: &mut Lists, node: Shared<'_, Node>) -> Option<Vec<usize>> {
        Self::count_unlink(node);
        lists.limbo.push(node.as_raw() as usize);
        if lists.limbo.len() < RETIRE_BATCH {
            return None;
        }
        let batch = core::mem::replace(&mut lists.limbo, Vec::with_capacity(RETIRE_BATCH));
        self.reclaim
            .retired
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Some(batch)
    }

    /// Hands retired elements (addresses) to the epoch scheme: they are
    /// recycled once every guard pinned before now has dropped.
    fn defer_batch(&self, batch: Vec<usize>, guard: &Guard) {
        let reclaim = Arc::clone(&self.reclaim);
        // SAFETY: as in `retire`, for each element: each was unlinked, and
        // so unreachable for new readers, before it was put in the batch,
        // which is before this call; each was allocated by Owned::new and
        // is retired once (unlinking happens once, under a bucket lock).
        unsafe {
            guard.defer_unchecked(move || reclaim.recycle_all(&batch));
        }
        // Hand the batch to the global queue and collect now: otherwise
        // the epoch scheme collects only every 128th pin of a thread, and a
        // thread that runs many packets under one pin (a batch, a
        // benchmark block) would let retired elements pile up while the
        // pool runs dry and inserts allocate. A collection also advances
        // the global epoch when every pinned thread has caught up, so
        // batches retired a few pins ago come back to the pool.
        guard.flush();
    }

    /// Inserts or updates `key` under update `flags` (already checked to be
    /// `BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST`, possibly with
    /// `BPF_F_LOCK`), with the kernel's `check_flags` errors. `fill`
    /// writes the value into a new element (zeroed) or, for
    /// [`OnExisting::InPlace`], into the existing one; it runs under the
    /// bucket lock.
    pub(crate) fn upsert(
        &self,
        key: &[u8],
        flags: u64,
        on_existing: OnExisting,
        fill: impl FnOnce(&Table, &Node),
    ) -> Result<(), MapError> {
        let mut fill = Some(fill);
        loop {
            match self.try_upsert(key, flags, on_existing, &mut fill) {
                Attempt::Done(r) => return r,
                // The bucket lock is released here, so the eviction may
                // take any bucket's lock without ordering concerns.
                Attempt::Evict => self.evict_one(),
            }
        }
    }

    fn try_upsert(
        &self,
        key: &[u8],
        flags: u64,
        on_existing: OnExisting,
        fill: &mut Option<impl FnOnce(&Table, &Node)>,
    ) -> Attempt {
        let guard = &epoch::pin();
        let hash = self.hash(key);
        let bucket = self.bucket(hash);
        let _lock = bucket.lock();

        let mut link = &bucket.head;
        let mut cur = link.load(Ordering::Acquire, guard);
        // SAFETY: as in `find`; in addition we hold the bucket lock, so the
        // list does not change under us.
        while let Some(node) = unsafe { cur.as_ref() } {
            if self.matches(node, hash, key) {
                break;
            }
            link = &node.next;
            cur = link.load(Ordering::Acquire, guard);
        }

        let op = flags & !BPF_F_LOCK;
        // SAFETY: as above.
        let existing = unsafe { cur.as_ref() };
        // An LRU insert reserves its slot before taking the writer, so a
        // full table can be retried after an eviction; the others reserve
        // below.
        let mut reserved = false;
        // An eviction beside this insert: the lists, still locked for the
        // insert's own element, and a batch of retired elements to hand
        // over once they are unlocked.
        let mut evicted = None;
        if existing.is_none() && op != BPF_EXIST && self.lru {
            // A slot, or else one handed over by an eviction.
            let room = self.reserve() || {
                evicted = self.evict_beside(bucket, guard);
                evicted.is_some()
            };
            if !room {
                return Attempt::Evict;
            }
            reserved = true;
        }
        // The writer is taken only once the attempt will finish.
        let Some(fill) = fill.take() else {
            if let Some((lists, Some(batch))) = evicted {
                drop(lists);
                self.defer_batch(batch, guard);
            }
            return Attempt::Done(Ok(()));
        };
        Attempt::Done(match existing {
            Some(_) if op == BPF_NOEXIST => Err(MapError::Exists),
            None if op == BPF_EXIST => Err(MapError::NotFound),
            Some(old) => match on_existing {
                OnExisting::InPlace => {
                    self.touch(old);
                    fill(self, old);
                    Ok(())
                }
                OnExisting::Replace => {
                    let (new, queued) = match self.new_node(hash, key, None) {
                        Ok(new) => new,
                        Err(e) => return Attempt::Done(Err(e)),
                    };
                    fill(self, &new);
                    new.next
                        .store(old.next.load(Ordering::Acquire, guard), Ordering::Relaxed);
                    let new = new.into_shared(guard);
                    link.store(new, Ordering::Release);
                    self.retire(cur, guard);
                    if !queued {
                        self.enqueue(new);
                    }
                    Ok(())
                }
            },
            None => {
                // Reserve a slot first, as the kernel's non-preallocated
                // htab does with `atomic_inc_return(&htab->count)`: inserts
                // into different buckets race only on this counter. A
                // compare-and-swap rather than an increment, so the count
                // never reads above max_entries, even for an instant.
                if !reserved && !self.reserve() {
                    return Attempt::Done(Err(MapError::Full {
                        max_entries: self.max_entries as u32,
                    }));
                }
                let (lists, batch) = evicted.map_or((None, None), |(l, b)| (Some(l), b));
                let made = self.new_node(hash, key, lists);
                if let Some(batch) = batch {
                    self.defer_batch(batch, guard);
                }
                let (new, queued) = match made {
                    Ok(new) => new,
                    Err(e) => {
                        self.count.fetch_sub(1, Ordering::Relaxed);
                        return Attempt::Done(Err(e));
                    }
                };
                fill(self, &new);
                let new = new.into_shared(guard);
                if self.queued {
                    // At the end of the chain (`link`, after the walk
                    // above): the chain is then oldest first, and an
                    // eviction, which takes old elements, finds its victim
                    // near the head instead of walking past newer ones.
                    link.store(new, Ordering::Release);
                } else {
                    // At the head, as the kernel's htab links them.
                    // SAFETY: not yet published, so still exclusively ours.
                    unsafe { new.deref() }.next.store(
                        bucket.head.load(Ordering::Acquire, guard),
                        Ordering::Relaxed,
                    );
                    bucket.head.store(new, Ordering::Release);
                }
                if !queued {
                    self.enqueue(new);
                }
                Ok(())
            }
        })
    }

    /// Takes one of the `max_entries` slots, if one is free.
    fn reserve(&self) -> bool {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
                (c < self.max_entries).then_some(c + 1)
            })
            .is_ok()
    }

    /// Removes one element of a full LRU table: from the eviction queue
    /// if the table has one ([`Table::evict_queued`]), else the least
    /// recently used one of a scan of at least [`LRU_SAMPLE`] elements
    /// (all of them in a table that small: exact LRU). Losing a race (the
    /// victim was removed meanwhile) just returns; the caller tries again.
    fn evict_one(&self) {
        if self.evict_queued() {
            return;
        }
        let guard = &epoch::pin();
        let n = self.buckets.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let mut best: Option<(u64, usize, *const Node)> = None;
        let mut seen = 0;
        for i in 0..n {
            let b = (start + i) % n;
            let mut cur = self.buckets[b].head.load(Ordering::Acquire, guard);
            // SAFETY: as in `find`.
            while let Some(node) = unsafe { cur.as_ref() } {
                let used = node.used.load(Ordering::Relaxed);
                if best.is_none_or(|(u, _, _)| used < u) {
                    best = Some((used, b, cur.as_raw()));
                }
                seen += 1;
                cur = node.next.load(Ordering::Acquire, guard);
            }
            if seen >= LRU_SAMPLE {
                break;
            }
        }
        let Some((_, b, victim)) = best else {
            return;
        };
        let bucket = &self.buckets[b];
        let _lock = bucket.lock();
        self.unlink(bucket, victim, guard);
    }

    /// Unlinks and retires the element at `victim` if `bucket`'s chain
    /// still holds it; returns whether it did. The caller holds the
    /// bucket's lock.
    fn unlink(&self, bucket: &Bucket, victim: *const Node, guard: &Guard) -> bool {
        let Some(node) = Self::detach(bucket, victim, guard) else {
            return false;
        };
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.retire(node, guard);
        true
    }

    /// Takes the element at `victim` out of `bucket`'s chain if the chain
    /// holds it, and returns it, for the caller to count and retire. The
    /// caller holds the bucket's lock.
    fn detach<'g>(
        bucket: &Bucket,
        victim: *const Node,
        guard: &'g Guard,
    ) -> Option<Shared<'g, Node>> {
        let mut link = &bucket.head;
        let mut cur = link.load(Ordering::Acquire, guard);
        // SAFETY: as in `upsert` (the caller holds the bucket lock).
        while let Some(node) = unsafe { cur.as_ref() } {
            if core::ptr::eq(cur.as_raw(), victim) {
                link.store(node.next.load(Ordering::Acquire, guard), Ordering::Release);
                return Some(cur);
            }
            link = &node.next;
            cur = link.load(Ordering::Acquire, guard);
        }
        None
    }

    /// Queues a just linked element for eviction (tables with a queue).
    /// A queue that has grown to twice the table (entries of elements
    /// that were deleted or replaced since) drops those first.
    fn enqueue(&self, node: Shared<'_, Node>) {
        if !self.queued {
            return;
        }
        // SAFETY: the caller linked it under the bucket lock it still holds.
        let n = unsafe { node.deref() };
        let mut lists = self.lists();
        self.push_queued(&mut lists, n);
    }

    /// Appends `node` as it is now to the eviction queue; a queue that has
    /// grown to twice the table (entries of elements that were deleted or
    /// replaced since) first drops those.
    #[inline]
    fn push_queued(&self, lists: &mut Lists, node: &Node) {
        let entry = Queued {
            node: core::ptr::from_ref(node) as usize,
            unlinks: node.unlinks.load(Ordering::Relaxed),
            used: node.used.load(Ordering::Relaxed),
        };
        if lists.queue.len() >= 2 * self.max_entries {
            lists.queue.retain(Queued::in_table);
        }
        lists.queue.push_back(entry);
    }

    /// The pool and eviction queue, locked.
    #[inline]
    fn lists(&self) -> SpinGuard<'_, Lists> {
        self.reclaim.lists.lock()
    }

    /// After an eviction found its victim in no chain: if the element is
    /// still in the table as queued, an insert has queued it and not yet
    /// linked it (it queues before it links, see `new_node`), so the entry
    /// goes back, to the end of the queue.
    fn requeue_unlinked(lists: &mut Lists, victim: Queued) {
        if victim.in_table() {
            lists.queue.push_back(victim);
        }
    }

    /// Eviction in a large LRU table, the CLOCK approximation of LRU the
    /// kernel's lists also make: entries leave the front of the queue in
    /// insertion order; one whose element left the table is dropped, one
    /// whose element was used since it was queued goes to the back with a
    /// second chance, and the first other one is evicted. A second chance
    /// is given once per use, so this is amortised constant time per insert
    /// and lookup; one eviction gives at most as many as the queue is long
    /// (only lookups racing with it could make it go round again). An
    /// eviction touches the front of the queue and its victim's chain, not
    /// the table. Returns whether it evicted (or lost a race for) an
    /// element; `false` without a queue or when the queue names no element.
    fn evict_queued(&self) -> bool {
        if !self.queued {
            return false;
        }
        let guard = &epoch::pin();
        let Some(victim) = self.pick_victim(&mut self.lists()) else {
            return false;
        };
        // The element was in the table when its `unlinks` was read, after
        // `guard` was pinned, so it cannot be reused (and its hash change)
        // before the guard drops.
        let bucket = self.bucket(victim.element().hash.load(Ordering::Relaxed));
        let lock = bucket.lock();
        if !self.unlink(bucket, victim.node as *const Node, guard) {
            drop(lock);
            Self::requeue_unlinked(&mut self.lists(), victim);
        }
        true
    }

    /// [`Table::evict_queued`] from within an insert that holds the lock
    /// of `held` (its own bucket), so that a full table costs the insert
    /// one pass instead of two (give up the lock, evict, start again): the
    /// victim's bucket is only tried (`try_lock`), never waited for, which
    /// keeps two such inserts from waiting on each other's buckets. A
    /// victim in `held` itself, or whose bucket is busy, goes back to the
    /// front of the queue and the insert takes the long way. When it
    /// evicted an element, the element's slot is the insert's (the count is
    /// left as it is, as if the insert had reserved it), and it returns the
    /// lists still locked, for the insert to take its own element in the
    /// same critical section, with any batch of retired elements due for
    /// the epoch scheme ([`Table::defer_batch`], once the lists are
    /// unlocked).
    fn evict_beside(
        &self,
        held: &Bucket,
        guard: &Guard,
    ) -> Option<(SpinGuard<'_, Lists>, Option<Vec<usize>>)> {
        if !self.queued {
            return None;
        }
        let mut lists = self.lists();
        let victim = self.pick_victim(&mut lists)?;
        // As in `evict_queued` (`guard` was pinned before the pick).
        let bucket = self.bucket(victim.element().hash.load(Ordering::Relaxed));
        // Only tried: this thread holds `held` and the lists, and waiting
        // for a bucket while holding them could deadlock with a writer of
        // that bucket waiting for either.
        let lock = if core::ptr::eq(bucket, held) {
            None
        } else {
            bucket.lock.try_lock()
        };
        let Some(lock) = lock else {
            lists.queue.push_front(victim);
            return None;
        };
        let Some(node) = Self::detach(bucket, victim.node as *const Node, guard) else {
            Self::requeue_unlinked(&mut lists, victim);
            return None;
        };
        drop(lock);
        // The victim's slot becomes the insert's: the count stays.
        let batch = self.to_limbo(&mut lists, node);
        Some((lists, batch))
    }

    /// Takes the next victim off the front of the eviction queue (see
    /// [`Table::evict_queued`]): entries of elements that left the table
    /// are dropped, entries of elements used since they were queued go to
    /// the back with a second chance. `None` when the queue names no
    /// element.
    fn pick_victim(&self, lists: &mut Lists) -> Option<Queued> {
        let q = &mut lists.queue;
        let most = q.len();
        let mut chances = 0;
        let victim = loop {
            let mut e = q.pop_front()?;
            if !e.in_table() {
                continue;
            }
            let used = e.element().used.load(Ordering::Relaxed);
            if used != e.used && chances < most {
                chances += 1;
                e.used = used;
                q.push_back(e);
                continue;
            }
            break e;
        };
        // The next evictions most likely take the next entries: bring in
        // the bucket of the next one (its element came in during the
        // previous eviction) and the element of the one after.
        if let Some(next) = q.front() {
            let bucket = self.bucket(next.element().hash.load(Ordering::Relaxed));
            prefetch_element(core::ptr::from_ref(bucket).cast());
        }
        if let Some(after) = q.get(1) {
            prefetch_element(after.node as *const Node);
        }
        // And the queue's own entries a few evictions ahead: one eviction
        // reads one entry, too slowly (amid everything else a packet
        // touches) for the hardware to see a stream.
        if let Some(ahead) = q.get(QUEUE_PREFETCH) {
            prefetch_element(core::ptr::from_ref(ahead).cast());
        }
        Some(victim)
    }

    /// Removes `key`'s element (`NotFound` if none).
    pub(crate) fn remove(&self, key: &[u8]) -> Result<(), MapError> {
        let guard = &epoch::pin();
        let hash = self.hash(key);
        let bucket = self.bucket(hash);
        let _lock = bucket.lock();
        let mut link = &bucket.head;
        let mut cur = link.load(Ordering::Acquire, guard);
        // SAFETY: as in `upsert`.
        while let Some(node) = unsafe { cur.as_ref() } {
            if self.matches(node, hash, key) {
                link.store(node.next.load(Ordering::Acquire, guard), Ordering::Release);
                self.count.fetch_sub(1, Ordering::Relaxed);
                self.retire(cur, guard);
                return Ok(());
            }
            link = &node.next;
            cur = link.load(Ordering::Acquire, guard);
        }
        Err(MapError::NotFound)
    }

    /// Removes every element.
    pub(crate) fn clear(&self) {
        let guard = &epoch::pin();
        for bucket in self.buckets.iter() {
            let _lock = bucket.lock();
            self.detach_chain(bucket, guard);
        }
    }

    /// Unlinks a bucket's whole chain and retires its elements. The caller
    /// holds the bucket's lock or has exclusive access.
    fn detach_chain(&self, bucket: &Bucket, guard: &Guard) {
        let mut cur = bucket.head.swap(Shared::null(), Ordering::AcqRel, guard);
        // SAFETY: the chain is unreachable for new readers and no writer
        // can touch it (lock held); its elements are live until retired.
        while let Some(node) = unsafe { cur.as_ref() } {
            let next = node.next.load(Ordering::Acquire, guard);
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.retire(cur, guard);
            cur = next;
        }
    }

    /// The key after `key` in table order, as `htab_map_get_next_key`
    /// defines it: the next element of the key's bucket, else the first
    /// element of a later bucket; a key that is absent (or `None`) restarts
    /// from the first element. `NotFound` after the last.
    pub(crate) fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        let guard = &epoch::pin();
        let mut start = 0;
        if let Some(key) = key {
            let hash = self.hash(key);
            let mut cur = self.bucket(hash).head.load(Ordering::Acquire, guard);
            // SAFETY: as in `find`.
            while let Some(node) = unsafe { cur.as_ref() } {
                if self.matches(node, hash, key) {
                    let next = node.next.load(Ordering::Acquire, guard);
                    // SAFETY: as in `find`.
                    if let Some(next) = unsafe { next.as_ref() } {
                        return Ok(self.key_bytes(next));
                    }
                    start = (hash & self.mask) as usize + 1;
                    break;
                }
                cur = node.next.load(Ordering::Acquire, guard);
            }
        }
        for bucket in &self.buckets[start.min(self.buckets.len())..] {
            let head = bucket.head.load(Ordering::Acquire, guard);
            // SAFETY: as in `find`.
            if let Some(node) = unsafe { head.as_ref() } {
                return Ok(self.key_bytes(node));
            }
        }
        Err(MapError::NotFound)
    }

    /// Calls `f` on every element, in table order, without locking:
    /// elements inserted or removed meanwhile may or may not be seen.
    pub(crate) fn for_each(&self, guard: &Guard, mut f: impl FnMut(&Node)) {
        for bucket in self.buckets.iter() {
            let mut cur = bucket.head.load(Ordering::Acquire, guard);
            // SAFETY: as in `find`.
            while let Some(node) = unsafe { cur.as_ref() } {
                f(node);
                cur = node.next.load(Ordering::Acquire, guard);
            }
        }
    }

    /// Copies slot `slot` of an element into `out` (at most a slot).
    #[inline]
    pub(crate) fn read_slot(&self, node: &Node, slot: usize, out: &mut [u8]) {
        load_bytes(self.slot(node, slot), out);
    }

    /// Writes `value` (at most a slot) into slot `slot`.
    #[inline]
    pub(crate) fn write_slot(&self, node: &Node, slot: usize, value: &[u8]) {
        store_bytes(self.slot(node, slot), value);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // Runs may still hold value pointers into elements if they did not
        // keep the map alive themselves; retire rather than free, so the
        // guard rule holds even across the map's own drop.
        let guard = &epoch::pin();
        for bucket in self.buckets.iter() {
            self.detach_chain(bucket, guard);
        }
        let rest = core::mem::take(&mut self.lists().limbo);
        self.reclaim
            .retired
            .fetch_add(rest.len() as u64, Ordering::Relaxed);
        if !rest.is_empty() {
            self.defer_batch(rest, guard);
        }
    }
}
