//! `BPF_MAP_TYPE_QUEUE` (FIFO) and `BPF_MAP_TYPE_STACK` (LIFO): values
//! without keys (kernel: `kernel/bpf/queue_stack_maps.c`).
//!
//! `key_size` must be 0. Programs use `bpf_map_push_elem`,
//! `bpf_map_pop_elem` and `bpf_map_peek_elem`; the control plane uses the
//! same operations, or [`Map::update`] (a push, as `BPF_MAP_UPDATE_ELEM`
//! is for these maps) and [`Map::lookup`] (a peek, as
//! `BPF_MAP_LOOKUP_ELEM` is) with an empty key. A push into a full map
//! fails with `E2BIG` unless its flags are `BPF_EXIST`, which overwrites
//! the oldest value (for the stack too, as the kernel's shared
//! `queue_stack_map_push_elem` does). Pop and peek of an empty map are
//! `ENOENT`. Values are copied in and out: programs never hold a pointer
//! into these maps, so no reclamation is involved. `delete` and `next_key`
//! are `EINVAL` as in the kernel. [`Map::entries`] lists the values in pop
//! order, each with an empty key.

use core::any::Any;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use oxbpf_abi::map_kind::{
    MapKind,
    flags::{BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE},
    update::{BPF_EXIST, BPF_NOEXIST},
};

use crate::spec::{Common, KMALLOC_MAX_SIZE};
use crate::{Entry, Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// A `queue` or `stack` map.
#[derive(Debug)]
pub struct QueueStack {
    common: Common,
    lifo: bool,
    values: Mutex<VecDeque<Box<[u8]>>>,
}

impl QueueStack {
    /// Creates the map, checking attributes as `queue_stack_map_alloc_check`
    /// does.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<QueueStack, MapError> {
        let kind = spec.kind;
        if !matches!(kind, MapKind::Queue | MapKind::Stack) {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "not a queue or stack",
            });
        }
        let common = Common::new(spec, opts)?;
        common.check_flags_within(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if spec.key_size != 0 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "key_size must be 0",
            });
        }
        if u64::from(spec.value_size) > KMALLOC_MAX_SIZE {
            return Err(MapError::TooBig {
                kind,
                what: "value",
                size: spec.value_size.into(),
                limit: KMALLOC_MAX_SIZE,
            });
        }
        Ok(QueueStack {
            common,
            lifo: kind == MapKind::Stack,
            values: Mutex::new(VecDeque::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Box<[u8]>>> {
        // Nothing panics while holding the lock.
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn do_push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common
            .check_value(value, self.common.spec.value_size as usize)?;
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(MapError::BadFlags {
                flags,
                kind: self.common.spec.kind,
            });
        }
        let mut q = self.lock();
        if q.len() >= self.common.spec.max_entries as usize {
            if flags != BPF_EXIST {
                return Err(MapError::Full {
                    max_entries: self.common.spec.max_entries,
                });
            }
            // The oldest value is at the front for both kinds.
            q.pop_front();
        }
        q.push_back(value.into());
        Ok(())
    }

    fn take(&self, out: &mut [u8], remove: bool) -> Result<(), MapError> {
        self.common
            .check_value(out, self.common.spec.value_size as usize)?;
        let mut q = self.lock();
        let v = if remove {
            if self.lifo {
                q.pop_back()
            } else {
                q.pop_front()
            }
        } else if self.lifo {
            q.back().cloned()
        } else {
            q.front().cloned()
        };
        let v = v.ok_or(MapError::NotFound)?;
        out.copy_from_slice(&v);
        Ok(())
    }

    fn no_keys(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_key(key)
    }
}

impl Map for QueueStack {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.lock().len(),
            retired: 0,
            reclaimed: 0,
        }
    }

    fn lookup_into(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_read("lookup")?;
        self.no_keys(key)?;
        self.take(out, false)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.no_keys(key)?;
        self.do_push(value, flags)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::InvalidSpec {
            kind: self.common.spec.kind,
            reason: "delete is not defined, use pop",
        })
    }

    fn next_key(&self, _key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        Err(MapError::InvalidSpec {
            kind: self.common.spec.kind,
            reason: "a map without keys has no next key",
        })
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok(Vec::new())
    }

    fn entries(&self) -> Result<Vec<Entry>, MapError> {
        self.common.check_read("entries")?;
        let q = self.lock();
        let mut out: Vec<Entry> = q.iter().map(|v| (Vec::new(), v.to_vec())).collect();
        if self.lifo {
            out.reverse();
        }
        Ok(out)
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        self.lock().clear();
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    fn lookup_ptr(&self, _key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        // The verifier refuses map_lookup_elem on these maps; values are
        // only ever copied out.
        None
    }

    fn prog_update(
        &self,
        _key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: u32,
    ) -> Result<(), MapError> {
        self.common.check_prog_write("update")?;
        self.do_push(value, flags)
    }

    fn prog_delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::InvalidSpec {
            kind: self.common.spec.kind,
            reason: "delete is not defined, use pop",
        })
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.common.check_prog_write("push")?;
        self.do_push(value, flags)
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.common.check_prog_write("pop")?;
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
