//! eBPF maps with the Linux kernel's semantics, for oxbpf's engines and for
//! control planes written in Rust.
//!
//! A map is created from a [`MapSpec`] (the attributes of
//! `BPF_MAP_CREATE`) by [`create`], which returns a shared handle to a
//! [`Map`]. The same handle serves two kinds of caller:
//!
//! - **a control plane**, with no program running: [`Map::lookup`] copies a
//!   value out, [`Map::update`], [`Map::delete`], [`Map::next_key`],
//!   [`Map::keys`], [`Map::entries`] and [`Map::clear`] behave as the
//!   `bpf(2)` map commands do, with the kernel's errors ([`MapError`],
//!   each with its errno);
//! - **programs**, through helpers an engine implements:
//!   [`Map::lookup_ptr`] returns a pointer into the value's storage (what
//!   `bpf_map_lookup_elem` returns), [`Map::prog_update`] and
//!   [`Map::prog_delete`] back `bpf_map_update_elem` and
//!   `bpf_map_delete_elem`.
//!
//! Implemented types: [`ArrayMap`] (`array`), [`PercpuArrayMap`]
//! (`percpu_array`), [`HashTable`] (`hash`), [`PercpuHashTable`]
//! (`percpu_hash`), [`LruHashTable`] (`lru_hash`), [`LruPercpuHashTable`]
//! (`lru_percpu_hash`), [`LpmTrie`] (`lpm_trie`), [`QueueStack`] (`queue`,
//! `stack`), [`RingBuf`] (`ringbuf`).
//!
//! # The reclamation rule
//!
//! A value pointer from [`Map::lookup_ptr`] is valid, for reads and writes
//! of the value's size, **until the [`RunGuard`] passed to that lookup is
//! dropped** — whatever happens to the entry meanwhile. The control plane
//! or another program may delete or replace the entry, clear or drop the
//! map: the memory is retired, not freed, and is reclaimed only after every
//! guard that was alive at retirement has dropped (epoch-based reclamation
//! with [`crossbeam_epoch`], playing the part of the RCU read-side critical
//! section the kernel runs each program in). So an engine:
//!
//! 1. pins a [`RunGuard`] before the run (one guard can cover a batch of
//!    runs on one thread),
//! 2. passes it to every `lookup_ptr` of the run,
//! 3. drops it after the run has returned, never earlier.
//!
//! Unlike the kernel's preallocated hash maps, which recycle a deleted
//! element at once, oxbpf never reuses an element's memory while a run
//! could hold it. Array values live as long as the map; after a replace
//! (an update of an existing `hash` key) a run holding the old pointer
//! keeps reading and writing the old element, as in the kernel.
//!
//! # Per-CPU maps
//!
//! A per-CPU map keeps one copy of each value per possible CPU,
//! `MapOptions::ncpus` of them (by default the host's available
//! parallelism). Each copy is `value_size` rounded up to 8 bytes, as the
//! kernel rounds it. Programs name their CPU: an engine passes the id of the
//! worker running the program (`bpf_get_smp_processor_id`) to
//! `lookup_ptr`/`prog_update`, and reaches only that copy, so workers never
//! contend on a per-CPU value. The control plane sees all copies at once:
//! [`Map::lookup`] returns `ncpus` rounded slots back to back and
//! [`Map::update`] takes the same layout (the kernel's
//! `bpf_percpu_array_copy` layout). A program's update of a new
//! `percpu_hash` key zeroes the other CPUs' copies.
//!
//! # Memory
//!
//! Every value starts on an 8-byte boundary (programs apply `BPF_ATOMIC`
//! operations to map values). In checked mode an engine registers the
//! pointer [`ValuePtr::addr`] .. `+` [`ValuePtr::len`] as a map-value region
//! (writable unless the map has `BPF_F_RDONLY_PROG`). Control-plane copies
//! use relaxed 8-byte loads and stores, so a value being written by a
//! program may be seen half-updated across words (as with the kernel);
//! each aligned 8-byte word is seen whole.

use core::any::Any;
use core::fmt;
use core::ptr::NonNull;
use std::sync::Arc;

mod array;
mod error;
mod guard;
mod hash;
mod huge;
mod lpm_trie;
mod lru_hash;
mod map_of_maps;
mod percpu_array;
mod percpu_hash;
mod prog_array;
mod queue_stack;
pub mod ringbuf;
mod spec;
mod spin;
mod storage;
mod table;

pub use array::ArrayMap;
pub use error::{MapError, errno};
pub use guard::RunGuard;
pub use hash::HashTable;
pub use lpm_trie::LpmTrie;
pub use lru_hash::{LruHashTable, LruPercpuHashTable};
pub use map_of_maps::MapOfMaps;
pub use oxbpf_abi::map_kind::{MapKind, flags, update};
pub use percpu_array::PercpuArrayMap;
pub use percpu_hash::PercpuHashTable;
pub use prog_array::FdArray;
pub use queue_stack::QueueStack;
pub use ringbuf::RingBuf;
pub use spec::{KMALLOC_MAX_SIZE, MapOptions, MapSpec, PCPU_MIN_UNIT_SIZE};

/// A key and its value, as [`Map::entries`] returns them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A shared handle to a map of any type.
pub type MapHandle = Arc<dyn Map>;

/// Creates a map of `spec.kind`, checking the attributes as the kernel's
/// `map_alloc_check` for that type does.
///
/// ```
/// use oxbpf_maps::{create, Map, MapError, MapOptions, MapSpec, MapKind, update::*};
///
/// let counts = create(&MapSpec::new(MapKind::Array, 4, 8, 4), &MapOptions::default()).unwrap();
/// counts.update(&2u32.to_ne_bytes(), &5u64.to_ne_bytes(), BPF_ANY).unwrap();
/// assert_eq!(counts.lookup(&2u32.to_ne_bytes()).unwrap(), 5u64.to_ne_bytes());
/// assert_eq!(
///     counts.update(&2u32.to_ne_bytes(), &5u64.to_ne_bytes(), BPF_NOEXIST),
///     Err(MapError::Exists),
/// );
/// ```
pub fn create(spec: &MapSpec, opts: &MapOptions) -> Result<MapHandle, MapError> {
    Ok(match spec.kind {
        MapKind::Array => Arc::new(ArrayMap::new(spec, opts)?),
        MapKind::PercpuArray => Arc::new(PercpuArrayMap::new(spec, opts)?),
        MapKind::Hash => Arc::new(HashTable::new(spec, opts)?),
        MapKind::PercpuHash => Arc::new(PercpuHashTable::new(spec, opts)?),
        MapKind::LruHash => Arc::new(LruHashTable::new(spec, opts)?),
        MapKind::LruPercpuHash => Arc::new(LruPercpuHashTable::new(spec, opts)?),
        MapKind::LpmTrie => Arc::new(LpmTrie::new(spec, opts)?),
        MapKind::Queue | MapKind::Stack => Arc::new(QueueStack::new(spec, opts)?),
        MapKind::Ringbuf => Arc::new(RingBuf::new(spec, opts)?),
        MapKind::ProgArray | MapKind::Devmap | MapKind::Xskmap => {
            Arc::new(FdArray::new(spec, opts)?)
        }
        MapKind::ArrayOfMaps | MapKind::HashOfMaps => {
            let template = spec
                .inner
                .as_deref()
                .cloned()
                .ok_or(MapError::InvalidSpec {
                    kind: spec.kind,
                    reason: "a map of maps needs an inner map template",
                })?;
            Arc::new(MapOfMaps::new(spec, template, opts)?)
        }
        kind => {
            return Err(MapError::Unsupported {
                op: "creation",
                kind,
            });
        }
    })
}

/// A pointer to a value's storage, handed to a program.
///
/// Valid for `len()` bytes of reads (and writes, if `writable()`) until the
/// [`RunGuard`] it was looked up under drops. Always 8-byte aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValuePtr {
    ptr: NonNull<u8>,
    len: u32,
    writable: bool,
}

impl ValuePtr {
    #[inline]
    pub(crate) fn new(ptr: NonNull<u8>, len: u32, writable: bool) -> ValuePtr {
        debug_assert_eq!(ptr.as_ptr() as usize % 8, 0);
        ValuePtr { ptr, len, writable }
    }

    /// The pointer.
    #[inline]
    pub fn as_ptr(self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The address, as a program register holds it.
    #[inline]
    pub fn addr(self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Bytes a program may access: the map's `value_size` (one CPU's copy
    /// for per-CPU maps).
    #[inline]
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Always false: values have at least one byte. Present for clippy's
    /// `len_without_is_empty`.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// Whether programs may write the value (false for `BPF_F_RDONLY_PROG`
    /// maps). A checked-mode region for this value is writable iff this is.
    #[inline]
    pub fn writable(self) -> bool {
        self.writable
    }
}

/// Where a program finds an array's values without calling into the map:
/// what an engine needs to inline `bpf_map_lookup_elem` on `array` and
/// `percpu_array` maps, as the kernel's JIT does with `map_gen_lookup`
/// (`array_map_gen_lookup`, `percpu_array_map_gen_lookup`). The value of
/// index `i < max_entries` for CPU `c < bases.len()` is at
/// `bases[c] + i * stride`, valid (8-byte aligned, `value_size` bytes) for
/// as long as the map lives; any other index or CPU has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Entries (`max_entries`).
    pub max_entries: u32,
    /// Bytes from one value to the next (`value_size` rounded up to 8).
    pub stride: u32,
    /// Address of value 0, per CPU copy (one for a plain array).
    pub bases: Vec<u64>,
}

/// Counters of a map, for observability and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapStats {
    /// Entries the map holds now (an array always holds `max_entries`).
    pub entries: usize,
    /// Elements removed from the map (delete, replace, clear) so far.
    pub retired: u64,
    /// Retired elements whose memory has been freed: those no run can
    /// reach any more. `retired - reclaimed` are waiting for guards.
    pub reclaimed: u64,
}

/// A map, as control planes and program helpers see it.
///
/// Keys and values are byte slices of exactly the map's key size and value
/// size; a size mismatch is an error, never a truncation. Methods take
/// `&self`: every map type is safe to use from many threads at once.
///
/// Operations a map type does not have return [`MapError::Unsupported`]
/// (the default implementations), so later types (queue, stack, ring
/// buffer, program array, map-in-map) implement only what applies to them.
pub trait Map: Send + Sync + fmt::Debug + Any {
    /// The attributes the map was created with.
    fn spec(&self) -> &MapSpec;

    /// Copies of each value: the number of CPUs for per-CPU maps, else 1.
    fn ncpus(&self) -> u32;

    /// Bytes of a value as [`Map::lookup`] returns it and [`Map::update`]
    /// takes it: `value_size`, or `ncpus * round_up(value_size, 8)` for
    /// per-CPU maps.
    fn user_value_size(&self) -> usize {
        let spec = self.spec();
        if spec.kind.is_percpu() {
            (spec.value_size as usize).div_ceil(8) * 8 * self.ncpus() as usize
        } else {
            spec.value_size as usize
        }
    }

    /// Counters: entries now, retired and reclaimed elements.
    fn stats(&self) -> MapStats;

    // ----- control plane -----

    /// Copies the value for `key` into `out` (of [`Map::user_value_size`]
    /// bytes). `NotFound` if there is none (an array index out of range
    /// included, as `BPF_MAP_LOOKUP_ELEM` answers `ENOENT`).
    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError>;

    /// The value for `key`, copied out.
    fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        let mut out = vec![0; self.user_value_size()];
        self.lookup_into(key, &mut out)?;
        Ok(out)
    }

    /// Sets the value for `key` under update `flags` (`BPF_ANY`,
    /// `BPF_NOEXIST`, `BPF_EXIST`), with the kernel's errors. Per-CPU maps
    /// take every CPU's copy ([`Map::user_value_size`] bytes).
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError>;

    /// Deletes the entry for `key`.
    fn delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// The key after `key` (the first key for `None`), as
    /// `BPF_MAP_GET_NEXT_KEY` defines it for the map type; `NotFound` after
    /// the last key.
    fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError>;

    /// Every key, in the map's iteration order. Keys inserted or deleted
    /// concurrently may or may not appear.
    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError>;

    /// Every entry as (key, value as [`Map::lookup`] returns it). Entries
    /// deleted while the copy is made are left out.
    fn entries(&self) -> Result<Vec<Entry>, MapError> {
        let mut out = Vec::new();
        for key in self.keys()? {
            match self.lookup(&key) {
                Ok(value) => out.push((key, value)),
                Err(MapError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes every entry; arrays, whose entries cannot be removed, are
    /// zeroed instead. Not a kernel command: a control-plane convenience.
    fn clear(&self) -> Result<(), MapError>;

    /// Makes the map read-only for the control plane from now on
    /// (`BPF_MAP_FREEZE`): later updates, deletes and clears fail with
    /// `NotPermitted`. Programs are not affected; `.rodata` maps are also
    /// created with `BPF_F_RDONLY_PROG` for that.
    fn freeze(&self);

    /// Whether [`Map::freeze`] was called.
    fn is_frozen(&self) -> bool;

    // ----- programs -----

    /// A pointer to the value for `key` as seen from `cpu` (which matters
    /// only for per-CPU maps), or `None` if there is none or `cpu` is not
    /// one of the map's CPUs. Valid until `guard` drops: see the crate docs.
    fn lookup_ptr(&self, key: &[u8], cpu: u32, guard: &RunGuard) -> Option<ValuePtr>;

    /// `bpf_map_update_elem` from a program running on `cpu`: `value` is
    /// one value of `value_size` bytes; per-CPU maps write only `cpu`'s copy.
    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError>;

    /// `bpf_map_delete_elem` from a program.
    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// The value storage of a single-value map for direct access, as the
    /// kernel's `map_direct_value_addr` gives it to `lddw` with
    /// `BPF_PSEUDO_MAP_VALUE` (global data: `.data`, `.rodata`, `.bss`).
    /// Valid for the map's lifetime. `None` for map types without it.
    fn direct_value(&self) -> Option<ValuePtr> {
        None
    }

    /// The value layout of an array map, for engines that inline its
    /// lookups ([`ArrayLayout`]); `None` for other map types (default).
    fn array_layout(&self) -> Option<ArrayLayout> {
        None
    }

    /// Pushes a value (`bpf_map_push_elem`; queue and stack maps).
    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        let _ = (value, flags);
        Err(MapError::Unsupported {
            op: "push",
            kind: self.spec().kind,
        })
    }

    /// Pops a value into `out` (`bpf_map_pop_elem`; queue and stack maps).
    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::Unsupported {
            op: "pop",
            kind: self.spec().kind,
        })
    }

    /// Copies the next value to pop into `out` without removing it
    /// (`bpf_map_peek_elem`; queue and stack maps).
    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::Unsupported {
            op: "peek",
            kind: self.spec().kind,
        })
    }

    /// The map as `Any`, to reach a concrete type's own methods.
    fn as_any(&self) -> &dyn Any;
}
