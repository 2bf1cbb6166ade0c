//! `BPF_MAP_TYPE_ARRAY`: `max_entries` preallocated, zeroed values indexed
//! by a `u32` key (kernel: `kernel/bpf/arraymap.c`).

use core::any::Any;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

use oxbpf_abi::map_kind::{
    MapKind,
    flags::{BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_NUMA_NODE},
    update::{BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST},
};

use crate::spec::Common;
use crate::storage::{alloc_words, load_bytes, poison, store_bytes, zero};
use crate::{Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// Flags `array_map_alloc_check` accepts for a plain array.
const ALLOWED_FLAGS: u32 = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_INNER_MAP;

/// Largest `value_size` (`INT_MAX`, beyond which the kernel's rounding
/// would overflow).
const MAX_VALUE_SIZE: u32 = i32::MAX as u32;

/// Decodes an array key: a host-endian `u32` index.
#[inline]
pub(crate) fn index_of(key: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&key[..4]);
    u32::from_ne_bytes(b)
}

/// Update-flag checks of `array_map_update_elem`, in the kernel's order:
/// unknown flags, then the index, then `BPF_NOEXIST` (every element
/// exists), then `BPF_F_LOCK` without a spin lock.
pub(crate) fn check_array_update(
    kind: MapKind,
    flags: u64,
    index: u32,
    max_entries: u32,
) -> Result<(), MapError> {
    if flags & !BPF_F_LOCK > BPF_EXIST {
        return Err(MapError::BadFlags { flags, kind });
    }
    if index >= max_entries {
        return Err(MapError::IndexOutOfRange { index, max_entries });
    }
    if flags & BPF_NOEXIST != 0 {
        return Err(MapError::Exists);
    }
    if flags & BPF_F_LOCK != 0 {
        return Err(MapError::NoSpinLock);
    }
    Ok(())
}

/// `get_next_key` of arrays: index 0 after a missing or out-of-range key,
/// `NotFound` after the last index.
pub(crate) fn array_next_key(key: Option<&[u8]>, max_entries: u32) -> Result<Vec<u8>, MapError> {
    let next = match key.map(index_of) {
        Some(i) if i < max_entries => {
            if i == max_entries - 1 {
                return Err(MapError::NotFound);
            }
            i + 1
        }
        _ => 0,
    };
    Ok(next.to_ne_bytes().to_vec())
}

/// An `array` map.
#[derive(Debug)]
pub struct ArrayMap {
    common: Common,
    /// `max_entries` values of `slot_words` words each.
    words: Box<[AtomicU64]>,
    slot_words: usize,
}

impl ArrayMap {
    /// Creates the array; attributes are checked as `array_map_alloc_check`
    /// checks them (key size 4, nonzero value size and length, flags).
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<ArrayMap, MapError> {
        let common = Common::new(spec, opts)?;
        check_array_spec(&common, ALLOWED_FLAGS)?;
        let slot_words = common.slot_bytes() / 8;
        let n = (spec.max_entries as usize)
            .checked_mul(slot_words)
            .ok_or(MapError::NoMemory { bytes: u64::MAX })?;
        Ok(ArrayMap {
            words: alloc_words(n)?,
            common,
            slot_words,
        })
    }

    #[inline]
    fn slot(&self, index: u32) -> &[AtomicU64] {
        let start = index as usize * self.slot_words;
        &self.words[start..start + self.slot_words]
    }

    #[inline]
    fn value_ptr(&self, index: u32) -> ValuePtr {
        ValuePtr::new(
            NonNull::from(&self.slot(index)[0]).cast(),
            self.common.spec.value_size,
            self.common.prog_writable(),
        )
    }

    fn write(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        let index = index_of(key);
        check_array_update(
            self.common.spec.kind,
            flags,
            index,
            self.common.spec.max_entries,
        )?;
        store_bytes(self.slot(index), value);
        Ok(())
    }
}

/// Checks shared by `array` and `percpu_array` (`array_map_alloc_check`).
pub(crate) fn check_array_spec(common: &Common, allowed: u32) -> Result<(), MapError> {
    let spec = &common.spec;
    if spec.key_size != 4 {
        return Err(MapError::InvalidSpec {
            kind: spec.kind,
            reason: "key_size must be 4",
        });
    }
    common.check_flags_within(allowed)?;
    if spec.value_size > MAX_VALUE_SIZE {
        return Err(MapError::TooBig {
            kind: spec.kind,
            what: "value",
            size: spec.value_size.into(),
            limit: MAX_VALUE_SIZE.into(),
        });
    }
    Ok(())
}

impl Map for ArrayMap {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
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
            .check_value(out, self.common.spec.value_size as usize)?;
        let index = index_of(key);
        if index >= self.common.spec.max_entries {
            return Err(MapError::NotFound);
        }
        load_bytes(self.slot(index), out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.write(key, value, flags)
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
        zero(&self.words);
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    #[inline]
    fn lookup_ptr(&self, key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        if key.len() != 4 {
            return None;
        }
        let index = index_of(key);
        (index < self.common.spec.max_entries).then(|| self.value_ptr(index))
    }

    fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, _cpu: u32) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.write(key, value, flags)
    }

    fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_prog_write("delete")?;
        self.common.check_key(key)?;
        Err(MapError::DeleteUnsupported {
            kind: self.common.spec.kind,
        })
    }

    fn array_layout(&self) -> Option<crate::ArrayLayout> {
        // One allocation of max_entries slots that lives as long as the
        // map (its words are never reallocated; drop retires them).
        Some(crate::ArrayLayout {
            max_entries: self.common.spec.max_entries,
            stride: (self.slot_words * 8) as u32,
            bases: vec![self.words.as_ptr() as u64],
        })
    }

    fn direct_value(&self) -> Option<ValuePtr> {
        // array_map_direct_value_addr() only serves single-element arrays.
        (self.common.spec.max_entries == 1).then(|| self.value_ptr(0))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for ArrayMap {
    fn drop(&mut self) {
        // Hand the values to the reclaimer instead of freeing them here, so
        // a run that still holds a value pointer (without holding the map)
        // keeps valid memory until its guard drops.
        let words = core::mem::take(&mut self.words);
        crossbeam_epoch::pin().defer(move || {
            poison(&words);
            drop(words);
        });
    }
}
