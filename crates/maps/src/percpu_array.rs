//! `BPF_MAP_TYPE_PERCPU_ARRAY`: an array with one copy of each value per
//! CPU (kernel: `kernel/bpf/arraymap.c`, the `percpu` paths).
//!
//! Each CPU's copies live in their own allocation, so counters bumped by
//! different workers never share a cache line (the kernel gets the same
//! from its per-CPU allocator).

use core::any::Any;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

use oxbpf_abi::map_kind::{
    flags::{BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE},
    update::BPF_EXIST,
};

use crate::array::{array_next_key, check_array_spec, check_array_update, index_of};
use crate::spec::Common;
use crate::storage::{alloc_words, load_bytes, poison, store_bytes, zero};
use crate::{Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// A `percpu_array` map.
#[derive(Debug)]
pub struct PercpuArrayMap {
    common: Common,
    /// Per CPU: `max_entries` slots of `slot_words` words.
    cpus: Vec<Box<[AtomicU64]>>,
    slot_words: usize,
}

impl PercpuArrayMap {
    /// Creates the map with `opts.ncpus` copies of each value.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<PercpuArrayMap, MapError> {
        let common = Common::new(spec, opts)?;
        // Per-CPU arrays take no NUMA node (array_map_alloc_check), and
        // BPF_F_MMAPABLE / BPF_F_INNER_MAP are for plain arrays only.
        if spec.flags & BPF_F_NUMA_NODE != 0 {
            return Err(MapError::InvalidSpec {
                kind: spec.kind,
                reason: "per-cpu maps take no numa node",
            });
        }
        check_array_spec(&common, BPF_F_ACCESS_MASK)?;
        let slot_words = common.slot_bytes() / 8;
        let n = (spec.max_entries as usize)
            .checked_mul(slot_words)
            .ok_or(MapError::NoMemory { bytes: u64::MAX })?;
        let cpus = (0..common.ncpus)
            .map(|_| alloc_words(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PercpuArrayMap {
            common,
            cpus,
            slot_words,
        })
    }

    #[inline]
    fn slot(&self, cpu: usize, index: u32) -> &[AtomicU64] {
        let start = index as usize * self.slot_words;
        &self.cpus[cpu][start..start + self.slot_words]
    }
}

impl Map for PercpuArrayMap {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        self.common.ncpus
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.common.spec.max_entries as usize,
            retired: 0,
            reclaimed: 0,
        }
    }

    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_read("lookup")?;
        self.common.check_key(key)?;
        self.common
            .check_value(out, self.common.user_value_size())?;
        let index = index_of(key);
        if index >= self.common.spec.max_entries {
            return Err(MapError::NotFound);
        }
        // bpf_percpu_array_copy(): each CPU's rounded slot, back to back.
        for (cpu, chunk) in out.chunks_exact_mut(self.slot_words * 8).enumerate() {
            load_bytes(self.slot(cpu, index), chunk);
        }
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.user_value_size())?;
        // bpf_percpu_array_update() rejects BPF_F_LOCK with the unknown
        // flags, then checks the index and BPF_NOEXIST like arrays.
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags {
                flags,
                kind: self.common.spec.kind,
            });
        }
        let index = index_of(key);
        check_array_update(
            self.common.spec.kind,
            flags,
            index,
            self.common.spec.max_entries,
        )?;
        for (cpu, chunk) in value.chunks_exact(self.slot_words * 8).enumerate() {
            store_bytes(self.slot(cpu, index), chunk);
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_write("delete")?;
        self.common.check_key(key)?;
        Err(MapError::DeleteUnsupported {
            kind: self.common.spec.kind,
        })
    }

    fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        self.common.check_read("next_key")?;
        if let Some(key) = key {
            self.common.check_key(key)?;
        }
        array_next_key(key, self.common.spec.max_entries)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.common.check_read("keys")?;
        Ok((0..self.common.spec.max_entries)
            .map(|i| i.to_ne_bytes().to_vec())
            .collect())
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        for words in &self.cpus {
            zero(words);
        }
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    #[inline]
    fn lookup_ptr(&self, key: &[u8], cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        if key.len() != 4 || cpu >= self.common.ncpus {
            return None;
        }
        let index = index_of(key);
        if index >= self.common.spec.max_entries {
            return None;
        }
        Some(ValuePtr::new(
            NonNull::from(&self.slot(cpu as usize, index)[0]).cast(),
            self.common.spec.value_size,
            self.common.prog_writable(),
        ))
    }

    fn array_layout(&self) -> Option<crate::ArrayLayout> {
        // One allocation per CPU, each living as long as the map.
        Some(crate::ArrayLayout {
            max_entries: self.common.spec.max_entries,
            stride: (self.slot_words * 8) as u32,
            bases: self.cpus.iter().map(|c| c.as_ptr() as u64).collect(),
        })
    }

    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        self.common.check_cpu(cpu)?;
        // From a program, array_map_update_elem() runs (flag checks as for
        // arrays) and writes this CPU's copy only.
        let index = index_of(key);
        check_array_update(
            self.common.spec.kind,
            flags,
            index,
            self.common.spec.max_entries,
        )?;
        store_bytes(self.slot(cpu as usize, index), value);
        Ok(())
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_prog_write("delete")?;
        self.common.check_key(key)?;
        Err(MapError::DeleteUnsupported {
            kind: self.common.spec.kind,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for PercpuArrayMap {
    fn drop(&mut self) {
        // As for ArrayMap: values outlive the map until current runs end.
        let cpus = core::mem::take(&mut self.cpus);
        crossbeam_epoch::pin().defer(move || {
            cpus.iter().for_each(|words| poison(words));
            drop(cpus);
        });
    }
}
