//! Arrays whose slots name an object outside the map: `prog_array`
//! (programs, for `bpf_tail_call`), `devmap` (interfaces, for
//! `bpf_redirect_map`) and `xskmap` (AF_XDP sockets, by queue). The kernel
//! keeps these as "fd arrays" (`kernel/bpf/arraymap.c`, `devmap.c`,
//! `xskmap.c`): userspace writes a file descriptor or ifindex, the slot
//! holds a reference, and a slot may be empty.
//!
//! Here a slot holds a `u32` *id* the caller gives meaning to: a program id
//! of the facade's program table for `prog_array`, an ifindex for
//! `devmap`, a queue id for `xskmap`. The control plane reads and writes
//! slots with [`Map::update`] / [`Map::lookup`] / [`Map::delete`] (4-byte
//! values; a `devmap` with an 8-byte `struct bpf_devmap_val` value takes
//! the ifindex in the first 4 bytes and requires the program id in the
//! other 4 to be 0, since oxbpf runs no devmap programs). Programs cannot
//! look up or write these maps, as in the kernel: helpers read slots with
//! [`FdArray::slot`].

use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use oxbpf_abi::map_kind::{
    MapKind,
    flags::{BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_NUMA_NODE},
    update::{BPF_EXIST, BPF_NOEXIST},
};

use crate::array::{array_next_key, index_of};
use crate::spec::Common;
use crate::{Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// Marks an occupied slot; the low 32 bits hold the id.
const PRESENT: u64 = 1 << 32;

/// A `prog_array`, `devmap` or `xskmap`: `max_entries` slots, each empty or
/// holding a `u32` id.
#[derive(Debug)]
pub struct FdArray {
    common: Common,
    slots: Box<[AtomicU64]>,
}

impl FdArray {
    /// Creates the map, checking attributes as `fd_array_map_alloc_check`
    /// and `dev_map_alloc` do: key size 4, value size 4 (`devmap` also 8).
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<FdArray, MapError> {
        let common = Common::new(spec, opts)?;
        let kind = spec.kind;
        if !matches!(kind, MapKind::ProgArray | MapKind::Devmap | MapKind::Xskmap) {
            return Err(MapError::Unsupported {
                op: "creation as an fd array",
                kind,
            });
        }
        if spec.key_size != 4 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "key_size must be 4",
            });
        }
        let value_ok = spec.value_size == 4 || (kind == MapKind::Devmap && spec.value_size == 8);
        if !value_ok {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "value_size must be 4 (or 8 for a devmap)",
            });
        }
        common.check_flags_within(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_INNER_MAP)?;
        let slots = (0..spec.max_entries).map(|_| AtomicU64::new(0)).collect();
        Ok(FdArray { common, slots })
    }

    /// The id in slot `index`, or `None` if the slot is empty or out of
    /// range. What helpers read on every tail call or redirect.
    #[inline]
    pub fn slot(&self, index: u32) -> Option<u32> {
        let v = self.slots.get(index as usize)?.load(Ordering::Acquire);
        (v & PRESENT != 0).then_some(v as u32)
    }

    /// Puts `id` in slot `index`.
    pub fn set_slot(&self, index: u32, id: u32) -> Result<(), MapError> {
        self.common.check_write("update")?;
        let slot = self.slot_ref(index)?;
        slot.store(PRESENT | u64::from(id), Ordering::Release);
        Ok(())
    }

    /// Empties slot `index`.
    pub fn clear_slot(&self, index: u32) -> Result<(), MapError> {
        self.common.check_write("delete")?;
        let slot = self.slot_ref(index)?;
        if slot.swap(0, Ordering::AcqRel) & PRESENT == 0 {
            return Err(MapError::NotFound);
        }
        Ok(())
    }

    fn slot_ref(&self, index: u32) -> Result<&AtomicU64, MapError> {
        self.slots
            .get(index as usize)
            .ok_or(MapError::IndexOutOfRange {
                index,
                max_entries: self.common.spec.max_entries,
            })
    }

    /// Every occupied slot as (index, id), by index.
    pub fn occupied(&self) -> Vec<(u32, u32)> {
        (0..self.common.spec.max_entries)
            .filter_map(|i| self.slot(i).map(|id| (i, id)))
            .collect()
    }
}

impl Map for FdArray {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.occupied().len(),
            retired: 0,
            reclaimed: 0,
        }
    }

    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_read("lookup")?;
        self.common.check_key(key)?;
        self.common
            .check_value(out, self.common.spec.value_size as usize)?;
        let id = self.slot(index_of(key)).ok_or(MapError::NotFound)?;
        out.fill(0);
        out[..4].copy_from_slice(&id.to_ne_bytes());
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.common.check_key(key)?;
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        let kind = self.common.spec.kind;
        // bpf_fd_array_map_update_elem() takes only BPF_ANY; dev_map_update_elem()
        // rejects unknown flags and answers BPF_NOEXIST with EEXIST (every
        // slot of an array exists).
        if kind == MapKind::ProgArray && flags != 0 || flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags, kind });
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        if value.len() == 8 && value[4..] != [0; 4] {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "devmap programs are not supported (bpf_prog.fd must be 0)",
            });
        }
        let index = index_of(key);
        let id = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]);
        let slot = self.slot_ref(index)?;
        slot.store(PRESENT | u64::from(id), Ordering::Release);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_key(key)?;
        self.clear_slot(index_of(key))
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
        Ok(self
            .occupied()
            .into_iter()
            .map(|(i, _)| i.to_ne_bytes().to_vec())
            .collect())
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        for s in self.slots.iter() {
            s.store(0, Ordering::Release);
        }
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    fn lookup_ptr(&self, _key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        // Programs may not look into fd arrays (the verifier's
        // check_map_func_compatibility); helpers use `slot`.
        None
    }

    fn prog_update(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            op: "updates from programs",
            kind: self.common.spec.kind,
        })
    }

    fn prog_delete(&self, _: &[u8]) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            op: "deletes from programs",
            kind: self.common.spec.kind,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog_array(n: u32) -> FdArray {
        FdArray::new(
            &MapSpec::new(MapKind::ProgArray, 4, 4, n),
            &MapOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn slots_start_empty_and_hold_ids() {
        let m = prog_array(4);
        assert_eq!(m.slot(0), None);
        m.update(&2u32.to_ne_bytes(), &7u32.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(m.slot(2), Some(7));
        assert_eq!(m.lookup(&2u32.to_ne_bytes()).unwrap(), 7u32.to_ne_bytes());
        assert_eq!(m.keys().unwrap(), vec![2u32.to_ne_bytes().to_vec()]);
        m.delete(&2u32.to_ne_bytes()).unwrap();
        assert_eq!(m.slot(2), None);
        assert_eq!(m.delete(&2u32.to_ne_bytes()), Err(MapError::NotFound));
    }

    #[test]
    fn id_zero_is_a_present_slot() {
        let m = prog_array(2);
        m.set_slot(1, 0).unwrap();
        assert_eq!(m.slot(1), Some(0));
    }

    #[test]
    fn out_of_range_and_program_writes_fail() {
        let m = prog_array(2);
        assert_eq!(m.slot(2), None);
        assert!(matches!(
            m.update(&2u32.to_ne_bytes(), &1u32.to_ne_bytes(), 0),
            Err(MapError::IndexOutOfRange { index: 2, .. })
        ));
        assert!(m.prog_update(&[0; 4], &[0; 4], 0, 0).is_err());
        assert!(m.lookup_ptr(&[0; 4], 0, &RunGuard::pin()).is_none());
    }

    #[test]
    fn devmap_takes_an_eight_byte_value_with_no_program() {
        let m = FdArray::new(
            &MapSpec::new(MapKind::Devmap, 4, 8, 2),
            &MapOptions::default(),
        )
        .unwrap();
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&5u32.to_ne_bytes());
        m.update(&0u32.to_ne_bytes(), &v, 0).unwrap();
        assert_eq!(m.slot(0), Some(5));
        v[4] = 1;
        assert!(m.update(&0u32.to_ne_bytes(), &v, 0).is_err());
        assert!(
            FdArray::new(
                &MapSpec::new(MapKind::ProgArray, 4, 8, 2),
                &MapOptions::default()
            )
            .is_err()
        );
    }
}
