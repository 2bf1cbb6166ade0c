//! `BPF_MAP_TYPE_HASH` (and `BPF_MAP_TYPE_LRU_HASH`, see `lru_hash.rs`): up to `max_entries` entries keyed by arbitrary
//! bytes (kernel: `kernel/bpf/hashtab.c`).
//!
//! Elements are allocated on insert whether or not `BPF_F_NO_PREALLOC` is
//! set; the observable behaviour (errors, `max_entries`) is the same as the
//! kernel's preallocated table, except that a deleted element is never
//! reused while a run could still hold it (see the crate docs).

use core::any::Any;

use crossbeam_epoch as epoch;
use oxbpf_abi::map_kind::{
    MapKind,
    flags::{
        BPF_F_ACCESS_MASK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_ZERO_SEED,
    },
    update::{BPF_EXIST, BPF_F_LOCK},
};

use crate::spec::{Common, HTAB_ELEM_SIZE, KMALLOC_MAX_SIZE};
use crate::table::{OnExisting, Table};
use crate::{Entry, Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// Flags `htab_map_alloc_check` accepts (`HTAB_CREATE_FLAG_MASK`).
pub(crate) const HTAB_CREATE_FLAG_MASK: u32 =
    BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED;

/// Creation checks of `htab_map_alloc_check` for the non-LRU hashes.
pub(crate) fn check_htab_spec(common: &Common) -> Result<(), MapError> {
    let spec = &common.spec;
    common.check_flags_within(HTAB_CREATE_FLAG_MASK)?;
    let lru = crate::lru_hash::is_lru(spec.kind);
    if lru {
        crate::lru_hash::check_lru_spec(common)?;
    } else if spec.flags & BPF_F_NO_COMMON_LRU != 0 {
        return Err(MapError::InvalidSpec {
            kind: spec.kind,
            reason: "BPF_F_NO_COMMON_LRU is for LRU maps",
        });
    }
    if (spec.kind.is_percpu() || spec.flags & BPF_F_NO_COMMON_LRU != 0)
        && spec.flags & BPF_F_NUMA_NODE != 0
    {
        return Err(MapError::InvalidSpec {
            kind: spec.kind,
            reason: "per-cpu maps take no numa node",
        });
    }
    if spec.key_size == 0 {
        return Err(MapError::InvalidSpec {
            kind: spec.kind,
            reason: "key_size is 0",
        });
    }
    let size = u64::from(spec.key_size) + u64::from(spec.value_size);
    if size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE {
        return Err(MapError::TooBig {
            kind: spec.kind,
            what: "key plus value",
            size,
            limit: KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE - 1,
        });
    }
    Ok(())
}

/// Update-flag checks of `htab_map_update_elem`, before the key is looked
/// up: unknown flags, then `BPF_F_LOCK` without a spin lock.
#[inline]
fn check_htab_update(kind: MapKind, flags: u64) -> Result<(), MapError> {
    if flags & !BPF_F_LOCK > BPF_EXIST {
        return Err(MapError::BadFlags { flags, kind });
    }
    if flags & BPF_F_LOCK != 0 {
        return Err(MapError::NoSpinLock);
    }
    Ok(())
}

/// A `hash` map.
#[derive(Debug)]
pub struct HashTable {
    common: Common,
    table: Table,
}

impl HashTable {
    /// Creates the map; attributes are checked as `htab_map_alloc_check`
    /// checks them.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<HashTable, MapError> {
        let common = Common::new(spec, opts)?;
        check_htab_spec(&common)?;
        let table = Table::new(
            spec.max_entries,
            spec.key_size as usize,
            common.slot_bytes(),
            1,
            spec.flags & BPF_F_ZERO_SEED != 0,
        )?;
        let table = if crate::lru_hash::is_lru(spec.kind) {
            table.with_lru()
        } else {
            table
        };
        Ok(HashTable { common, table })
    }

    fn write(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        check_htab_update(self.common.spec.kind, flags)?;
        self.table
            .upsert(key, flags, OnExisting::Replace, |t, node| {
                t.write_slot(node, 0, value)
            })
    }

    fn remove(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_key(key)?;
        self.table.remove(key)
    }
}

impl Map for HashTable {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        let (retired, reclaimed) = self.table.reclaim().counts();
        MapStats {
            entries: self.table.len(),
            retired,
            reclaimed,
        }
    }

    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_read("lookup")?;
        self.common.check_key(key)?;
        self.common
            .check_value(out, self.common.spec.value_size as usize)?;
        let guard = &epoch::pin();
        let node = self.table.find(key, guard).ok_or(MapError::NotFound)?;
        self.table.read_slot(node, 0, out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.write(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_write("delete")?;
        self.remove(key)
    }

    fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        self.common.check_read("next_key")?;
        if let Some(key) = key {
            self.common.check_key(key)?;
        }
        self.table.next_key(key)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.common.check_read("keys")?;
        let mut keys = Vec::with_capacity(self.table.len());
        self.table
            .for_each(&epoch::pin(), |node| keys.push(self.table.key_bytes(node)));
        Ok(keys)
    }

    fn entries(&self) -> Result<Vec<Entry>, MapError> {
        self.common.check_read("entries")?;
        let mut out = Vec::with_capacity(self.table.len());
        let size = self.common.spec.value_size as usize;
        self.table.for_each(&epoch::pin(), |node| {
            let mut value = vec![0; size];
            self.table.read_slot(node, 0, &mut value);
            out.push((self.table.key_bytes(node), value));
        });
        Ok(out)
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        self.table.clear();
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    #[inline]
    fn lookup_ptr(&self, key: &[u8], _cpu: u32, guard: &RunGuard) -> Option<ValuePtr> {
        if key.len() != self.common.spec.key_size as usize {
            return None;
        }
        let node = self.table.find(key, guard.epoch())?;
        Some(ValuePtr::new(
            self.table.slot_ptr(node, 0),
            self.common.spec.value_size,
            self.common.prog_writable(),
        ))
    }

    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, _cpu: u32) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.write(key, value, flags)
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_prog_write("delete")?;
        self.remove(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
