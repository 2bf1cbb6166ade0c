//! `BPF_MAP_TYPE_PERCPU_HASH` (and `BPF_MAP_TYPE_LRU_PERCPU_HASH`, see
//! `lru_hash.rs`): a hash whose entries hold one value per CPU
//! (kernel: `kernel/bpf/hashtab.c`, `__htab_percpu_map_update_elem`).
//!
//! An element's per-CPU copies sit back to back after its key. Updating an
//! existing key writes into the element in place (`pcpu_copy_value`); a
//! program's insert of a new key sets its own CPU's copy and zeroes the
//! others (`pcpu_init_value`), so every copy starts known.
//!
//! Unlike the kernel, whose per-CPU allocator puts each CPU's copy in that
//! CPU's own area, the copies of one element share an allocation, so small
//! values of neighbouring CPUs can share a cache line: correct, but CPUs
//! updating the same key contend more than in the kernel.

use core::any::Any;

use crossbeam_epoch as epoch;
use oxbpf_abi::map_kind::{flags::BPF_F_ZERO_SEED, update::BPF_EXIST};

use crate::hash::check_htab_spec;
use crate::spec::Common;
use crate::table::{OnExisting, Table};
use crate::{Entry, Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// A `percpu_hash` map.
#[derive(Debug)]
pub struct PercpuHashTable {
    common: Common,
    table: Table,
}

impl PercpuHashTable {
    /// Creates the map with `opts.ncpus` copies of each value.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<PercpuHashTable, MapError> {
        let common = Common::new(spec, opts)?;
        check_htab_spec(&common)?;
        let table = Table::new(
            spec.max_entries,
            spec.key_size as usize,
            common.slot_bytes(),
            common.ncpus as usize,
            spec.flags & BPF_F_ZERO_SEED != 0,
        )?;
        let table = if crate::lru_hash::is_lru(spec.kind) {
            table.with_lru()
        } else {
            table
        };
        Ok(PercpuHashTable { common, table })
    }

    /// `__htab_percpu_map_update_elem` rejects every flag beyond
    /// `BPF_EXIST`, `BPF_F_LOCK` included.
    #[inline]
    fn check_flags(&self, flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags {
                flags,
                kind: self.common.spec.kind,
            });
        }
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_key(key)?;
        self.table.remove(key)
    }
}

impl Map for PercpuHashTable {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        self.common.ncpus
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
            .check_value(out, self.common.user_value_size())?;
        let guard = &epoch::pin();
        let node = self.table.find(key, guard).ok_or(MapError::NotFound)?;
        for (cpu, chunk) in out.chunks_exact_mut(self.common.slot_bytes()).enumerate() {
            self.table.read_slot(node, cpu, chunk);
        }
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.user_value_size())?;
        self.check_flags(flags)?;
        let slot = self.common.slot_bytes();
        self.table
            .upsert(key, flags, OnExisting::InPlace, |t, node| {
                for (cpu, chunk) in value.chunks_exact(slot).enumerate() {
                    t.write_slot(node, cpu, chunk);
                }
            })
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
        let slot = self.common.slot_bytes();
        self.table.for_each(&epoch::pin(), |node| {
            let mut value = vec![0; self.common.user_value_size()];
            for (cpu, chunk) in value.chunks_exact_mut(slot).enumerate() {
                self.table.read_slot(node, cpu, chunk);
            }
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
    fn lookup_ptr(&self, key: &[u8], cpu: u32, guard: &RunGuard) -> Option<ValuePtr> {
        if key.len() != self.common.spec.key_size as usize || cpu >= self.common.ncpus {
            return None;
        }
        let node = self.table.find(key, guard.epoch())?;
        Some(ValuePtr::new(
            self.table.slot_ptr(node, cpu as usize),
            self.common.spec.value_size,
            self.common.prog_writable(),
        ))
    }

    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        self.common.check_cpu(cpu)?;
        self.check_flags(flags)?;
        let cpu = cpu as usize;
        // A new element's other copies are already zero (allocations are
        // zeroed); only this CPU's copy is written, new or existing.
        self.table
            .upsert(key, flags, OnExisting::InPlace, |t, node| {
                t.write_slot(node, cpu, value)
            })
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_prog_write("delete")?;
        self.remove(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
